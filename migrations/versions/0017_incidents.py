"""incidents: incidents and their timelines

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("group_key", sa.String(600), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("principal", sa.String(256), nullable=True),
        sa.Column("owner_id", sa.String(32), nullable=True),
        sa.Column("opened_by", sa.String(128), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notify_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detections", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'triaged', 'contained', 'eradicated', 'recovered', 'closed', "
            "'false_positive')",
            name=op.f("ck_incidents_state"),
        ),
        sa.CheckConstraint(
            "severity IN ('low', 'medium', 'high', 'critical')",
            name=op.f("ck_incidents_severity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_group", "incidents", ["group_key", "state"])
    op.create_table(
        "incident_entries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('opened', 'detection', 'state', 'comment', 'step', 'owner')",
            name=op.f("ck_incident_entries_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_entries_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_entries")),
    )
    op.create_index(
        "ix_incident_entries_incident", "incident_entries", ["incident_id", "n"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_incident_entries_incident", table_name="incident_entries")
    op.drop_table("incident_entries")
    op.drop_index("ix_incidents_group", table_name="incidents")
    op.drop_table("incidents")
