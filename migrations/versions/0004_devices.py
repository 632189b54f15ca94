"""devices, and API keys that act as a device

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("name", name=op.f("uq_devices_name")),
    )
    op.create_index(op.f("ix_devices_site"), "devices", ["site"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("owner_device_id", sa.String(32), nullable=True))
        batch.create_foreign_key(
            op.f("fk_api_keys_owner_device_id_devices"),
            "devices",
            ["owner_device_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(op.f("ix_api_keys_owner_device_id"), ["owner_device_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index(op.f("ix_api_keys_owner_device_id"))
        batch.drop_constraint(op.f("fk_api_keys_owner_device_id_devices"), type_="foreignkey")
        batch.drop_column("owner_device_id")
    op.drop_index(op.f("ix_devices_site"), table_name="devices")
    op.drop_table("devices")
