"""stream settings: AI processors, redaction, encoding targets per device

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_settings",
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=True),
        sa.Column("ai_models", sa.JSON(), nullable=False),
        sa.Column("redact_faces", sa.Boolean(), nullable=False),
        sa.Column("resolution", sa.String(16), nullable=False),
        sa.Column("bitrate", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_stream_settings_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_stream_settings")),
    )


def downgrade() -> None:
    op.drop_table("stream_settings")
