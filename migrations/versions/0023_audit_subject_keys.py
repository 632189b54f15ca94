"""audit: per-subject keys sealing the personal columns (crypto-shredding on erasure)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06

Entries written before this revision keep their personal columns in clear: the
migration has no master secret to seal them with. Erasure still blanks those (the
legacy path); entries written from now on are sealed and shredded with their key.
The new columns are added in place (no table rebuild on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_subject_keys",
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_audit_subject_keys")),
    )
    op.add_column("audit_log", sa.Column("actor_name_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("audit_log", sa.Column("source_address_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("audit_log", sa.Column("actor_name_index", sa.String(64), nullable=True))
    op.create_index(op.f("ix_audit_log_actor_name_index"), "audit_log", ["actor_name_index"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_actor_name_index"), table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("actor_name_index")
        batch.drop_column("source_address_sealed")
        batch.drop_column("actor_name_sealed")
    op.drop_table("audit_subject_keys")
