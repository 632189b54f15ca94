"""retention: legal holds and per-site retention days

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("range_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("range_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(64), nullable=True),
        sa.Column("release_reason", sa.String(500), nullable=True),
        sa.CheckConstraint(
            "range_start IS NULL OR range_end IS NULL OR range_start < range_end",
            name=op.f("ck_legal_holds_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index("ix_legal_holds_device_active", "legal_holds", ["device_id", "released_at"])
    op.create_table(
        "site_retention",
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("continuous_days", sa.Integer(), nullable=True),
        sa.Column("event_days", sa.Integer(), nullable=True),
        sa.Column("export_days", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site", name=op.f("pk_site_retention")),
    )


def downgrade() -> None:
    op.drop_table("site_retention")
    op.drop_index("ix_legal_holds_device_active", table_name="legal_holds")
    op.drop_table("legal_holds")
