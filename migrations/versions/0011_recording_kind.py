"""recording kind: each segment row says whether its recording is continuous or an event clip

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recording_segments") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="continuous")
        )
        batch.create_check_constraint(
            op.f("ck_recording_segments_kind"), "kind IN ('continuous', 'event')"
        )


def downgrade() -> None:
    with op.batch_alter_table("recording_segments") as batch:
        batch.drop_constraint(op.f("ck_recording_segments_kind"), type_="check")
        batch.drop_column("kind")
