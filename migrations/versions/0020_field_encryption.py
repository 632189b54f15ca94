"""privacy: field encryption of personal data (field keys, sealed columns, blind index)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06

Sessions from before keep their address and browser in clear until
`lensguard privacy rekey` seals them (the migration holds no key).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "field_keys",
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('data', 'index')", name=op.f("ck_field_keys_purpose")),
        sa.PrimaryKeyConstraint("purpose", "version", name=op.f("pk_field_keys")),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("email_index", sa.String(64), nullable=True))
        batch.add_column(sa.Column("display_name_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("phone_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("fields_version", sa.Integer(), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_email_index"), ["email_index"])
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("client_address_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("user_agent_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("fields_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_column("fields_version")
        batch.drop_column("user_agent_sealed")
        batch.drop_column("client_address_sealed")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_email_index"), type_="unique")
        batch.drop_column("fields_version")
        batch.drop_column("phone_sealed")
        batch.drop_column("display_name_sealed")
        batch.drop_column("email_index")
        batch.drop_column("email_sealed")
    op.drop_table("field_keys")
