"""Legal holds and per-site retention days: the rules the retention job obeys.

A legal hold keeps a device's segments (every one, or those that touch a time range)
from retention and from quota eviction until it is released. Holds are never
deleted: a released hold keeps who released it, when and why. A site may set its
own days per class; a class it leaves unset uses ``recordings.retention.days``.
Every change is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal
from lensguard.audit.log import AuditLog
from lensguard.errors import Conflict, NotFound
from lensguard.identity.auditing import audit_event
from lensguard.recordings.hold_models import LegalHold, SiteRetention
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.settings import CLASSES, RetentionDays
from lensguard.recordings.store import new_segment_id

MAX_ACTIVE_HOLDS = 1_000
"""Active holds per device: a limit, so the job's check per segment stays cheap."""


@dataclass(frozen=True)
class Span:
    """A held time range; None at either end means open."""

    start: datetime | None
    end: datetime | None

    def touches(self, started_at: datetime, ended_at: datetime) -> bool:
        """True when a segment from ``started_at`` to ``ended_at`` overlaps the range."""
        after_start = self.start is None or ended_at > self.start
        before_end = self.end is None or started_at < self.end
        return after_start and before_end


class Holds:
    """The active holds of some devices, for the job's per-segment check."""

    def __init__(self, spans: dict[str, list[Span]]) -> None:
        self._spans = spans

    def covers(self, row: RecordingSegment) -> bool:
        """True when an active hold keeps ``row``."""
        return self.covers_range(row.device_id, row.started_at, row.ended_at)

    def covers_range(self, device_id: str, start: datetime, end: datetime) -> bool:
        """True when an active hold of ``device_id`` touches ``start`` to ``end``."""
        return any(span.touches(start, end) for span in self._spans.get(device_id, ()))

    @classmethod
    async def load(cls, session: AsyncSession) -> Holds:
        """Every active hold."""
        result = await session.execute(select(LegalHold).where(LegalHold.released_at.is_(None)))
        spans: dict[str, list[Span]] = {}
        for hold in result.scalars():
            spans.setdefault(hold.device_id, []).append(Span(hold.range_start, hold.range_end))
        return cls(spans)


async def place_hold(
    session: AsyncSession,
    audit: AuditLog,
    *,
    device_id: str,
    site: str,
    start: datetime | None,
    end: datetime | None,
    reason: str,
    by: Principal,
    address: str | None,
    now: datetime,
) -> LegalHold:
    """Put a device (or a range of its recordings) on hold, audited."""
    if start is not None and end is not None and start >= end:
        raise ValueError("a held range ends after it starts")
    active = await session.execute(
        select(LegalHold.id).where(
            LegalHold.device_id == device_id, LegalHold.released_at.is_(None)
        )
    )
    if len(active.scalars().all()) >= MAX_ACTIVE_HOLDS:
        raise Conflict(f"this device already has {MAX_ACTIVE_HOLDS} active holds")
    hold = LegalHold(
        id=new_segment_id(),
        device_id=device_id,
        site=site,
        range_start=start,
        range_end=end,
        reason=reason,
        created_by=by.id,
        created_at=now,
    )
    session.add(hold)
    await session.flush()
    await audit.append(
        session,
        audit_event(
            "recording.hold.place",
            by=by,
            address=address,
            resource_type="device",
            resource_id=device_id,
            hold_id=hold.id,
            reason=reason,
            range_start=None if start is None else start.isoformat(),
            range_end=None if end is None else end.isoformat(),
        ),
    )
    return hold


async def holds_of(
    session: AsyncSession, device_ids: Iterable[str] | None, *, active_only: bool
) -> Sequence[LegalHold]:
    """Holds of the devices given (every device when None), newest first."""
    query = select(LegalHold)
    if device_ids is not None:
        query = query.where(LegalHold.device_id.in_(list(device_ids)))
    if active_only:
        query = query.where(LegalHold.released_at.is_(None))
    result = await session.execute(query.order_by(LegalHold.created_at.desc(), LegalHold.id))
    return result.scalars().all()


async def release_hold(
    session: AsyncSession,
    audit: AuditLog,
    hold: LegalHold,
    *,
    reason: str,
    by: Principal,
    address: str | None,
    now: datetime,
) -> LegalHold:
    """Release an active hold, audited; retention may remove its segments from the next run."""
    if hold.released_at is not None:
        raise Conflict("this hold is already released")
    hold.released_at, hold.released_by, hold.release_reason = now, by.id, reason
    await session.flush()
    await audit.append(
        session,
        audit_event(
            "recording.hold.release",
            by=by,
            address=address,
            resource_type="device",
            resource_id=hold.device_id,
            hold_id=hold.id,
            reason=reason,
        ),
    )
    return hold


async def find_hold(session: AsyncSession, hold_id: str) -> LegalHold:
    """The hold of that id; NotFound otherwise."""
    hold = await session.get(LegalHold, hold_id)
    if hold is None:
        raise NotFound("no such hold")
    return hold


# -- per-site days ------------------------------------------------------------------


def site_days(defaults: RetentionDays, row: SiteRetention | None) -> RetentionDays:
    """The days that apply on a site: its own where set, the defaults elsewhere."""
    if row is None:
        return defaults
    own = {cls: getattr(row, f"{cls}_days") for cls in CLASSES}
    return defaults.model_copy(update={k: v for k, v in own.items() if v is not None})


async def all_site_days(session: AsyncSession, defaults: RetentionDays) -> dict[str, RetentionDays]:
    """Every site that sets its own days, with what applies there."""
    rows = (await session.execute(select(SiteRetention))).scalars().all()
    return {row.site: site_days(defaults, row) for row in rows}


async def set_site_days(
    session: AsyncSession,
    audit: AuditLog,
    site: str,
    own: dict[str, int | None],
    *,
    by: Principal,
    address: str | None,
    now: datetime,
) -> SiteRetention:
    """Set a site's own days per class (None: use the default), audited with before and after."""
    row = await session.get(SiteRetention, site)
    before = {cls: None if row is None else getattr(row, f"{cls}_days") for cls in CLASSES}
    if row is None:
        row = SiteRetention(site=site)
        session.add(row)
    for cls in CLASSES:
        setattr(row, f"{cls}_days", own.get(cls))
    row.updated_by, row.updated_at = by.id, now
    await session.flush()
    await audit.append(
        session,
        audit_event(
            "recording.retention.configure",
            by=by,
            address=address,
            resource_type="site",
            resource_id=site,
            before=before,
            after={cls: own.get(cls) for cls in CLASSES},
        ),
    )
    return row
