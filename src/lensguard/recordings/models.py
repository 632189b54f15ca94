"""The segment index table on the shared ``Base`` (one metadata); migration 0010 creates it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.store.models import Base
from lensguard.store.types import UTCDateTime, utcnow

STREAMS = ("processed", "raw")
KINDS = ("continuous", "event")
"""Recording classes (retention keeps each for its own time): ``continuous`` video and
``event`` clips (pre-roll to post-roll around detections, motion and incidents)."""


class RecordingSegment(Base):
    """One stored, encrypted segment of a recording, chained to the one before it.

    ``device_id`` has no foreign key on purpose: removing a device must not silently
    drop the index of its recordings (retention removes keys, files and rows, in
    that order).
    """

    __tablename__ = "recording_segments"
    __table_args__ = (
        UniqueConstraint("recording_id", "seq"),
        CheckConstraint("stream IN ('processed', 'raw')", name="stream"),
        CheckConstraint("kind IN ('continuous', 'event')", name="kind"),
        Index("ix_recording_segments_device_time", "device_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """The segment id in the store: opaque and path-safe."""
    recording_id: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    """Position in the recording, from 0."""
    device_id: Mapped[str] = mapped_column(String(32))
    stream: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="continuous", server_default="continuous")
    """The recording's class (``KINDS``); migration 0011 gave existing rows ``continuous``."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    size: Mapped[int] = mapped_column("bytes", BigInteger)
    """Stored (encrypted) length."""
    key_id: Mapped[str] = mapped_column(String(64))
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """The data key wrapped by KEK ``kek_version``; NULL once shredded."""
    digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the stored bytes."""
    prev_digest: Mapped[str] = mapped_column(String(64))
    """The chain link of the previous segment (zeros for the first)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OpenRecording(Base):
    """A recording a node is running now: removed when it is sealed.

    A node that dies leaves its rows; at start-up it seals those recordings as
    ``interrupted`` (``recordings/recovery.py``). ``node_id`` keeps one node from
    sealing another's live recordings in a cluster.
    """

    __tablename__ = "recordings_open"

    recording_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32), index=True)
    stream: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecordingDemand(Base):
    """An on-demand recording a person started: recorded until someone stops it.

    Kept in the database so any node may take the request and the node holding the
    device (which may be another) records; it also survives that node's restart.
    """

    __tablename__ = "recording_demands"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Who started it (kept as an id: the audit log names them)."""
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
