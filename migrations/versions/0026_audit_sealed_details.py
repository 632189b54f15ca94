"""audit: personal values inside an entry's details, sealed under their subject's key

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07

``details_ref`` names the subject whose key seals ``details_sealed`` (the personal
values taken out of ``details``); ``details_digest`` is the keyed hash of those values
that the entry hash covers, so erasure can drop them and the chain still verifies.
Entries written before this revision have none of the three and hash as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("details_ref", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("details_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("audit_log", sa.Column("details_digest", sa.String(64), nullable=True))
    op.create_index(op.f("ix_audit_log_details_ref"), "audit_log", ["details_ref"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_details_ref"), table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("details_digest")
        batch.drop_column("details_sealed")
        batch.drop_column("details_ref")
