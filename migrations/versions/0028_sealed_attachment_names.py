"""incident attachments: the file's name sealed like other personal fields

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08

``name_sealed`` holds the name sealed under the personal-field data key
``fields_version``; ``name`` stays for rows written before, in clear, until
``lensguard privacy rekey`` seals them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident_attachments") as batch:
        batch.add_column(sa.Column("name_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("fields_version", sa.Integer(), nullable=True))
        batch.alter_column("name", existing_type=sa.String(200), nullable=True)


def downgrade() -> None:
    # The sealed names cannot be opened here: such rows are named by their id.
    op.execute("UPDATE incident_attachments SET name = 'attachment-' || id WHERE name IS NULL")
    with op.batch_alter_table("incident_attachments") as batch:
        batch.alter_column("name", existing_type=sa.String(200), nullable=False)
        batch.drop_column("fields_version")
        batch.drop_column("name_sealed")
