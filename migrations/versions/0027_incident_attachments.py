"""incident attachments: evidence files, stored encrypted, and an ``attachment`` entry

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07

A row names the file, the type its content is, its size and SHA-256, and its data key
wrapped under a recording KEK; the content is in the segment store.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('opened', 'detection', 'state', 'comment', 'step', 'owner', 'escalated')"
NEW_KINDS = (
    "kind IN ('opened', 'detection', 'state', 'comment', 'step', 'owner', 'escalated', "
    "'attachment')"
)


def upgrade() -> None:
    op.create_table(
        "incident_attachments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("added_by", sa.String(32), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_attachments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_attachments")),
    )
    op.create_index(
        "ix_incident_attachments_incident", "incident_attachments", ["incident_id", "added_at"]
    )
    with op.batch_alter_table("incident_entries", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_incident_entries_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_incident_entries_kind"), NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM incident_entries WHERE kind = 'attachment'")
    with op.batch_alter_table("incident_entries", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_incident_entries_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_incident_entries_kind"), OLD_KINDS)
    op.drop_index("ix_incident_attachments_incident", table_name="incident_attachments")
    op.drop_table("incident_attachments")
