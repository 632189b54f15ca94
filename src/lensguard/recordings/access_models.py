"""Grants and playback sessions on the shared ``Base``; migration 0012 creates them.

A ``RecordingGrant`` shares one device's recordings between two times with one user
or every user of one role, until ``expires_at`` (or ``revoked_at``). A
``RecordingPlayback`` is one audited viewing session: who, which device and stream,
which time range, until when, and the grant it rests on (None when the viewer's own
``recording_view`` scope covers the device).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.store.models import Base, new_id
from lensguard.store.types import UTCDateTime, utcnow


class RecordingGrant(Base):
    """A time-bounded share of one device's recordings between ``starts_at`` and ``ends_at``."""

    __tablename__ = "recording_grants"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (role IS NULL)", name="one_grantee"),
        Index("ix_recording_grants_device", "device_id", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RecordingPlayback(Base):
    """One viewing session of a device's recordings; its segments are fetched through it."""

    __tablename__ = "recording_playbacks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    viewer_id: Mapped[str] = mapped_column(String(128), index=True)
    device_id: Mapped[str] = mapped_column(String(32))
    stream: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    grant_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Set when the session was refused because its grant or access ended (audited once)."""
