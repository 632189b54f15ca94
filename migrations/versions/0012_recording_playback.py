"""recording playback: time-bounded recording grants and audited playback sessions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_grants",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("role", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (role IS NULL)", name=op.f("ck_recording_grants_one_grantee")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_grants")),
    )
    op.create_index(op.f("ix_recording_grants_user_id"), "recording_grants", ["user_id"])
    op.create_index("ix_recording_grants_device", "recording_grants", ["device_id", "expires_at"])
    op.create_table(
        "recording_playbacks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("viewer_id", sa.String(128), nullable=False),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("stream", sa.String(16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grant_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_playbacks")),
    )
    op.create_index(op.f("ix_recording_playbacks_viewer_id"), "recording_playbacks", ["viewer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_recording_playbacks_viewer_id"), table_name="recording_playbacks")
    op.drop_table("recording_playbacks")
    op.drop_index("ix_recording_grants_device", table_name="recording_grants")
    op.drop_index(op.f("ix_recording_grants_user_id"), table_name="recording_grants")
    op.drop_table("recording_grants")
