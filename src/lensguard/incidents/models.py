"""Incident tables on the shared ``Base``; migrations 0017, 0018, 0027 and 0028 create them."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.keyring.sealed import SealedColumns, register
from lensguard.store.models import Base, new_id
from lensguard.store.types import UTCDateTime

STATES = (
    "open",
    "triaged",
    "contained",
    "eradicated",
    "recovered",
    "closed",
    "false_positive",
)
ENTRY_KINDS = (
    "opened",
    "detection",
    "state",
    "comment",
    "step",
    "owner",
    "escalated",
    "attachment",
)


class Incident(Base):
    """One incident: what, how bad, about whom, where it stands."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(
            "state IN ('open', 'triaged', 'contained', 'eradicated', 'recovered', 'closed', "
            "'false_positive')",
            name="state",
        ),
        CheckConstraint("severity IN ('low', 'medium', 'high', 'critical')", name="severity"),
        Index("ix_incidents_group", "group_key", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    """The playbook's kind, or ``unclassified``."""
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")
    group_key: Mapped[str] = mapped_column(String(600))
    """Source address and principal: detections about the same pair join one incident."""
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    principal: Mapped[str | None] = mapped_column(String(256), nullable=True)
    owner_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    opened_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    """Who opened it by hand; NULL when detections did."""
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """The newest detection (grouping looks at it)."""
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notify_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """The notification deadline its playbook sets (GDPR: 72 h for a breach)."""
    escalation_level: Mapped[int] = mapped_column(default=0, server_default="0")
    """How many escalation levels were alerted because nobody acknowledged it."""
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detections: Mapped[int] = mapped_column(default=0)
    entries: Mapped[int] = mapped_column(default=0)
    """Timeline entries so far: the next entry's ``n``."""


class IncidentEntry(Base):
    """One line of an incident's timeline (each is also an audit entry)."""

    __tablename__ = "incident_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('opened', 'detection', 'state', 'comment', 'step', 'owner', 'escalated', "
            "'attachment')",
            name="kind",
        ),
        Index("ix_incident_entries_incident", "incident_id", "n", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incidents.id", ondelete="CASCADE")
    )
    n: Mapped[int] = mapped_column()
    """Position in the incident's timeline, from 0."""
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    """JSON: the detection, the state change, the comment, the step."""


class IncidentAttachment(Base):
    """One evidence file of an incident, stored encrypted in the segment store.

    Its content lives under ``incident-<id>`` in the recording store, encrypted under
    its own data key (``key_id``), which is kept here wrapped under the recording KEK
    ``kek_version``. ``sha256`` is the plaintext's digest, audited when it was added and
    checked on every download.
    """

    __tablename__ = "incident_attachments"
    __table_args__ = (Index("ix_incident_attachments_incident", "incident_id", "added_at"),)
    stream: ClassVar[str] = "processed"
    """The recording key ring its data key is under (the vault's processed-stream ring)."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("incidents.id", ondelete="CASCADE")
    )
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The file's name in clear: only on rows from before migration 0028 (``rekey`` seals it)."""
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """The file's name, sealed (``keyring.fields``): a name may name a person."""
    fields_version: Mapped[int | None] = mapped_column(nullable=True)
    media_type: Mapped[str] = mapped_column(String(64))
    """The type its content is (``attachment_types``), which the download is served as."""
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    kek_version: Mapped[int] = mapped_column()
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    added_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The user who added it; NULL from the server's shell."""
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


ATTACHMENT_NAMES = register(
    SealedColumns("incident_attachments", IncidentAttachment, ("name",), legacy=("name",))
)
"""An attachment's name is sealed like a person's e-mail address, and re-sealed by ``rekey``."""
