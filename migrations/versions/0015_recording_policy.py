"""recording policy: mode, pre/post-roll and segment length per device and per site;
the recordings a node is running (sealed as interrupted if the node dies) and the
on-demand recordings people started

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _columns(batch: object) -> None:
    add = batch.add_column  # type: ignore[attr-defined]
    add(sa.Column("recording_mode", sa.String(16), nullable=False, server_default="off"))
    add(sa.Column("pre_roll_seconds", sa.Integer(), nullable=True))
    add(sa.Column("post_roll_seconds", sa.Integer(), nullable=True))
    add(sa.Column("segment_seconds", sa.Float(), nullable=True))


def upgrade() -> None:
    with op.batch_alter_table("stream_settings") as batch:
        _columns(batch)
    with op.batch_alter_table("site_policies") as batch:
        _columns(batch)
        batch.add_column(
            sa.Column("record_raw", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "recordings_open",
        sa.Column("recording_id", sa.String(32), nullable=False),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("stream", sa.String(16), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("recording_id", name=op.f("pk_recordings_open")),
    )
    op.create_index(
        op.f("ix_recordings_open_device_id"), "recordings_open", ["device_id"], unique=False
    )
    op.create_index(
        op.f("ix_recordings_open_node_id"), "recordings_open", ["node_id"], unique=False
    )
    op.create_table(
        "recording_demands",
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_recording_demands_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_recording_demands")),
    )


def downgrade() -> None:
    op.drop_table("recording_demands")
    op.drop_table("recordings_open")
    with op.batch_alter_table("site_policies") as batch:
        for name in (
            "record_raw",
            "segment_seconds",
            "post_roll_seconds",
            "pre_roll_seconds",
            "recording_mode",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("stream_settings") as batch:
        for name in ("segment_seconds", "post_roll_seconds", "pre_roll_seconds", "recording_mode"):
            batch.drop_column(name)
