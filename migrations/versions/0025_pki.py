"""pki: certificates the internal CA issued, and its revocation lists

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pki_certificates",
        sa.Column("serial", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("common_name", sa.String(255), nullable=False),
        sa.Column("names", sa.Text(), nullable=False),
        sa.Column("device_id", sa.String(32), nullable=True),
        sa.Column("fingerprint", sa.String(95), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(32), nullable=True),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('server', 'device')", name=op.f("ck_pki_certificates_kind")),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_pki_certificates")),
    )
    op.create_index(op.f("ix_pki_certificates_device_id"), "pki_certificates", ["device_id"])
    op.create_index(op.f("ix_pki_certificates_not_after"), "pki_certificates", ["not_after"])
    op.create_table(
        "pki_crls",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_pki_crls")),
    )


def downgrade() -> None:
    op.drop_table("pki_crls")
    op.drop_index(op.f("ix_pki_certificates_not_after"), table_name="pki_certificates")
    op.drop_index(op.f("ix_pki_certificates_device_id"), table_name="pki_certificates")
    op.drop_table("pki_certificates")
