"""audit: hash-chained audit log, its head row and signed checkpoints

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_ref", sa.String(64), nullable=True),
        sa.Column("actor_id", sa.String(128), nullable=True),
        sa.Column("actor_name", sa.String(255), nullable=True),
        sa.Column("source_address", sa.String(64), nullable=True),
        sa.Column("personal_digest", sa.String(64), nullable=False),
        sa.Column("personal_erased", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=True),
        sa.Column("resource_id", sa.String(255), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    for column in ("ts", "actor_ref", "actor_id", "actor_name", "action"):
        op.create_index(op.f(f"ix_audit_log_{column}"), "audit_log", [column])
    op.create_index("ix_audit_log_resource", "audit_log", ["resource_type", "resource_id"])

    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}])

    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_head")
    op.drop_table("audit_log")
