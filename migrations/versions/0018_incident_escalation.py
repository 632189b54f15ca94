"""incident escalation: the level reached, when, and an ``escalated`` timeline entry

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('opened', 'detection', 'state', 'comment', 'step', 'owner')"
NEW_KINDS = "kind IN ('opened', 'detection', 'state', 'comment', 'step', 'owner', 'escalated')"


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(
            sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("incident_entries", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_incident_entries_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_incident_entries_kind"), NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM incident_entries WHERE kind = 'escalated'")
    with op.batch_alter_table("incident_entries", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_incident_entries_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_incident_entries_kind"), OLD_KINDS)
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("escalated_at")
        batch.drop_column("escalation_level")
