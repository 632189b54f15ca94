"""recording segments: the encrypted segment index, chained per recording

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_segments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("recording_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("stream", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prev_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "stream IN ('processed', 'raw')", name=op.f("ck_recording_segments_stream")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_segments")),
        sa.UniqueConstraint("recording_id", "seq", name=op.f("uq_recording_segments_recording_id")),
    )
    op.create_index(
        op.f("ix_recording_segments_recording_id"), "recording_segments", ["recording_id"]
    )
    op.create_index(
        "ix_recording_segments_device_time", "recording_segments", ["device_id", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_recording_segments_device_time", table_name="recording_segments")
    op.drop_index(op.f("ix_recording_segments_recording_id"), table_name="recording_segments")
    op.drop_table("recording_segments")
