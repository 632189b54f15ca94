"""stream resolution optional: unset means the source's own size, never scaled

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stream_settings") as batch:
        batch.alter_column("resolution", existing_type=sa.String(16), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE stream_settings SET resolution = '640x480' WHERE resolution IS NULL")
    with op.batch_alter_table("stream_settings") as batch:
        batch.alter_column("resolution", existing_type=sa.String(16), nullable=False)
