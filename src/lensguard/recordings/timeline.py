"""What the index says about a device's time: the segments in a range and the ranges recorded.

Segments of one device's stream are ordered by start time (then id). A segment comes
``after_gap`` when a segment before it (same device and stream) ends more than
``GAP_TOLERANCE`` before it starts: the publisher dropped, or recording stopped and
started again. The recorded ranges of a window are the segments' spans clipped to
the window and merged across anything shorter than that tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.recordings.models import RecordingSegment

GAP_TOLERANCE = timedelta(milliseconds=100)
"""Two segments this close (or overlapping) are one continuous range."""


@dataclass(frozen=True)
class Span:
    """A half-open stretch of time ``[start, end)``."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Listed:
    """One segment row and whether a gap comes right before it."""

    row: RecordingSegment
    after_gap: bool


def _overlapping(device_id: str, stream: str, span: Span) -> list[ColumnElement[bool]]:
    return [
        RecordingSegment.device_id == device_id,
        RecordingSegment.stream == stream,
        RecordingSegment.started_at < span.end,
        RecordingSegment.ended_at > span.start,
    ]


async def _previous(session: AsyncSession, row: RecordingSegment) -> RecordingSegment | None:
    result = await session.execute(
        select(RecordingSegment)
        .where(
            RecordingSegment.device_id == row.device_id,
            RecordingSegment.stream == row.stream,
            or_(
                RecordingSegment.started_at < row.started_at,
                and_(
                    RecordingSegment.started_at == row.started_at,
                    RecordingSegment.id < row.id,
                ),
            ),
        )
        .order_by(RecordingSegment.started_at.desc(), RecordingSegment.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


def _gap(before: RecordingSegment | None, row: RecordingSegment) -> bool:
    return before is not None and row.started_at - before.ended_at > GAP_TOLERANCE


async def with_gap(session: AsyncSession, row: RecordingSegment) -> Listed:
    """``row`` and whether a gap comes right before it."""
    return Listed(row, _gap(await _previous(session, row), row))


async def segments_in(
    session: AsyncSession,
    device_id: str,
    stream: str,
    spans: Sequence[Span],
    *,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[Listed]:
    """Segments overlapping any of ``spans``, in time order, after the ``after`` key."""
    if not spans:
        return []
    query = select(RecordingSegment).where(
        or_(*(and_(*_overlapping(device_id, stream, span)) for span in spans))
    )
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(
                RecordingSegment.started_at > at,
                and_(RecordingSegment.started_at == at, RecordingSegment.id > last_id),
            )
        )
    query = query.order_by(RecordingSegment.started_at, RecordingSegment.id)
    if limit is not None:
        query = query.limit(limit)
    rows = list((await session.execute(query)).scalars().all())
    if not rows:
        return []
    listed = []
    before = await _previous(session, rows[0])
    for row in rows:
        listed.append(Listed(row, _gap(before, row)))
        before = row
    return listed


async def segment_at(
    session: AsyncSession, device_id: str, stream: str, at: datetime, within: Span
) -> RecordingSegment | None:
    """The segment holding ``at`` (the first one starting after it if ``at`` is in a gap)."""
    if not within.start <= at < within.end:
        return None
    result = await session.execute(
        select(RecordingSegment)
        .where(
            RecordingSegment.device_id == device_id,
            RecordingSegment.stream == stream,
            RecordingSegment.ended_at > at,
            RecordingSegment.started_at < within.end,
        )
        .order_by(RecordingSegment.started_at, RecordingSegment.id)
        .limit(1)
    )
    return result.scalar_one_or_none()


def merge(spans: Sequence[Span], window: Span) -> list[Span]:
    """``spans`` inside ``window``: clipped, sorted, merged across gaps under the tolerance."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        start, end = max(span.start, window.start), min(span.end, window.end)
        if end <= start:
            continue
        if merged and start - merged[-1].end <= GAP_TOLERANCE:
            last = merged[-1]
            merged[-1] = Span(last.start, max(last.end, end))
        else:
            merged.append(Span(start, end))
    return merged


async def recorded_ranges(
    session: AsyncSession, device_id: str, stream: str, spans: Sequence[Span], window: Span
) -> list[Span]:
    """The merged recorded ranges of a device's stream inside ``window``, within ``spans``.

    Each segment is clipped to the span that allows it: a grant's range bounds what
    the timeline shows.
    """
    found: list[Span] = []
    for span in spans:
        result = await session.execute(
            select(RecordingSegment.started_at, RecordingSegment.ended_at).where(
                *_overlapping(device_id, stream, span)
            )
        )
        for started, ended in result.all():
            found.append(Span(max(started, span.start), min(ended, span.end)))
    return merge(found, window)
