"""site stream policies and break-glass redaction overrides

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_policies",
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("redact_faces", sa.Boolean(), nullable=False),
        sa.Column("ai_models", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site", name=op.f("pk_site_policies")),
    )
    op.create_table(
        "redaction_overrides",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_redaction_overrides_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_redaction_overrides_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redaction_overrides")),
    )
    op.create_index(op.f("ix_redaction_overrides_device_id"), "redaction_overrides", ["device_id"])
    op.create_index(op.f("ix_redaction_overrides_user_id"), "redaction_overrides", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_redaction_overrides_user_id"), table_name="redaction_overrides")
    op.drop_index(op.f("ix_redaction_overrides_device_id"), table_name="redaction_overrides")
    op.drop_table("redaction_overrides")
    op.drop_table("site_policies")
