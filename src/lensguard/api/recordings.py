"""``/api/v1/recordings``: a device's recorded ranges and the segments that hold them.

Both answer only what the caller may see (``recordings_scope``): a device outside
scope and without a grant is a 404, and a grant's range bounds what is listed.
A request spans at most 24 hours; the segment list is cursor-paginated.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from lensguard.access.principal import Principal
from lensguard.api.deps import ServicesDep, requires
from lensguard.api.pages import BAD_CURSOR, PAGED, Listing, PageDep, next_link, stamp
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.api.recordings_scope import (
    VIEW,
    SegmentPublic,
    Stream,
    allowed,
    listed_public,
    window,
)
from lensguard.errors import ValidationFailed
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.timeline import recorded_ranges, segments_in

router = APIRouter(
    prefix="/api/v1/recordings", tags=["recordings"], responses=problems(AUTHENTICATED)
)
Viewer = Annotated[Principal, requires(VIEW)]
DeviceQuery = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
StartQuery = Annotated[datetime, Query(description="ISO 8601 with a time zone")]
EndQuery = Annotated[datetime, Query(description="ISO 8601 with a time zone; at most 24 h on")]
StreamQuery = Annotated[Stream, Query(description="raw needs an open break-glass grant")]
SEGMENTS: Listing[RecordingSegment] = Listing(
    "recording-segments", key=lambda r: (stamp(r.started_at), r.id), parts=(str, str)
)


def _resume(cursor: str | None) -> tuple[datetime, str] | None:
    after = SEGMENTS.decode(cursor)
    if after is None:
        return None
    try:
        at = datetime.fromisoformat(str(after[0]))
    except ValueError:
        raise ValidationFailed(
            BAD_CURSOR, errors=[{"field": "query.cursor", "message": BAD_CURSOR, "type": "cursor"}]
        ) from None
    return at.replace(tzinfo=UTC), str(after[1])


class TimeRange(BaseModel):
    start: datetime
    end: datetime


class Timeline(BaseModel):
    device_id: str
    stream: str
    start: datetime
    end: datetime
    ranges: list[TimeRange] = Field(description="recorded ranges in order; gaps split them")


class SegmentPage(BaseModel):
    items: list[SegmentPublic]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null last")


@router.get("/timeline", summary="Recorded ranges of a device", responses=problems(404, 422))
async def timeline(
    *,
    principal: Viewer,
    services: ServicesDep,
    device_id: DeviceQuery,
    start: StartQuery,
    end: EndQuery,
    stream: StreamQuery = "processed",
) -> Timeline:
    """The ranges of ``[start, end)`` that a device's stream has recordings for (≤ 24 h)."""
    span = window(start, end)
    seen = await allowed(services, principal, device_id, stream, span)
    async with services.db.sessions() as session:
        ranges = await recorded_ranges(session, device_id, stream, seen.spans, span)
    return Timeline(
        device_id=device_id,
        stream=stream,
        start=span.start,
        end=span.end,
        ranges=[TimeRange(start=r.start, end=r.end) for r in ranges],
    )


@router.get("/segments", summary="List recorded segments", responses=PAGED | problems(404, 422))
async def list_segments(
    *,
    principal: Viewer,
    services: ServicesDep,
    page: PageDep,
    device_id: DeviceQuery,
    start: StartQuery,
    end: EndQuery,
    stream: StreamQuery = "processed",
) -> SegmentPage:
    """The segments overlapping ``[start, end)`` (≤ 24 h), oldest first, a page at a time."""
    span = window(start, end)
    seen = await allowed(services, principal, device_id, stream, span)
    resume = _resume(page.cursor)
    async with services.db.sessions() as session:
        found = await segments_in(
            session, device_id, stream, seen.spans, after=resume, limit=page.limit + 1
        )
    shown = found[: page.limit]
    cursor = None
    if len(found) > page.limit:
        cursor = SEGMENTS.encode(SEGMENTS.key(shown[-1].row))
        page.response.headers["Link"] = next_link(page.request, cursor=cursor)
    return SegmentPage(items=listed_public(shown), next_cursor=cursor)
