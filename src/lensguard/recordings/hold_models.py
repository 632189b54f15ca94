"""Retention's tables on the shared ``Base``: legal holds and per-site retention days.

Migration ``0013_retention`` creates them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.store.models import Base
from lensguard.store.types import UTCDateTime, utcnow


class LegalHold(Base):
    """Keeps a device's segments (all of them, or those touching a time range) from deletion.

    Neither retention nor quota eviction removes a segment an active hold covers. A
    released hold keeps its row (who released it, when) so the audit trail stays whole.
    """

    __tablename__ = "legal_holds"
    __table_args__ = (
        CheckConstraint(
            "range_start IS NULL OR range_end IS NULL OR range_start < range_end", name="range"
        ),
        Index("ix_legal_holds_device_active", "device_id", "released_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32))
    site: Mapped[str] = mapped_column(String(64))
    """The device's site when the hold was placed (for scoping who may see it)."""
    range_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Held from here (None: from the first segment)."""
    range_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Held up to here (None: open-ended, every later segment too)."""
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)


class SiteRetention(Base):
    """A site's own retention days per class; a NULL class uses the global setting."""

    __tablename__ = "site_retention"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    continuous_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    event_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    export_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
