"""privacy: erasure requests of recorded video (a device or site over a time range)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("erasure_requests") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="account"))
        batch.alter_column("user_id", existing_type=sa.String(32), nullable=True)
        batch.add_column(sa.Column("device_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("site", sa.String(64), nullable=True))
        batch.add_column(sa.Column("range_start", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("range_end", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("segments", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("bytes", sa.BigInteger(), nullable=False, server_default="0"))
        batch.create_check_constraint(
            op.f("ck_erasure_requests_kind"), "kind IN ('account', 'recordings')"
        )


def downgrade() -> None:
    # Recording erasures have no account: their rows go with the columns that hold them.
    op.execute("DELETE FROM erasure_requests WHERE kind = 'recordings'")
    with op.batch_alter_table("erasure_requests") as batch:
        batch.drop_constraint(op.f("ck_erasure_requests_kind"), type_="check")
        for name in ("bytes", "segments", "range_end", "range_start", "site", "device_id"):
            batch.drop_column(name)
        batch.alter_column("user_id", existing_type=sa.String(32), nullable=False)
        batch.drop_column("kind")
