"""oidc: identities linked by (issuer, subject), provider sessions, password sign-in switch

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

``users.password_login`` is added in place with a server default of true, so every
existing account keeps signing in with its password.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("password_login", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "oidc_identities",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oidc_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_identities")),
        sa.UniqueConstraint("issuer", "subject", name="uq_oidc_identities_issuer"),
    )
    op.create_index(op.f("ix_oidc_identities_user_id"), "oidc_identities", ["user_id"])
    op.create_table(
        "oidc_sessions",
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("sid", sa.String(255), nullable=True),
        sa.Column("mfa_by_provider", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["login_sessions.id"],
            name=op.f("fk_oidc_sessions_session_id_login_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_oidc_sessions")),
    )
    op.create_index(op.f("ix_oidc_sessions_subject"), "oidc_sessions", ["subject"])
    op.create_index(op.f("ix_oidc_sessions_sid"), "oidc_sessions", ["sid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_oidc_sessions_sid"), table_name="oidc_sessions")
    op.drop_index(op.f("ix_oidc_sessions_subject"), table_name="oidc_sessions")
    op.drop_table("oidc_sessions")
    op.drop_index(op.f("ix_oidc_identities_user_id"), table_name="oidc_identities")
    op.drop_table("oidc_identities")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_login")
