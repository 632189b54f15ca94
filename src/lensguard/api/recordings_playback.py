"""``/api/v1/recordings/playbacks``: audited viewing sessions, seeks and segment media.

Opening a session audits ``recording.viewed`` (who, device, stream, range); every
seek audits ``recording.seeked``. Segment media is the decrypted WebM of one
segment, verified before any byte is sent, with HTTP Range (206, 416 past the end).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.egress import egress
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.recordings_live import expiry, live_playback, span_of
from lensguard.api.recordings_scope import (
    VIEW,
    SegmentPublic,
    Stream,
    allowed,
    listed_public,
    segment_public,
    utc,
    window,
)
from lensguard.errors import NotFound
from lensguard.identity.auditing import audit_event
from lensguard.recordings.access_models import RecordingPlayback
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.serve import SegmentTampered, serve_segment
from lensguard.recordings.tamper import report_tampered
from lensguard.recordings.timeline import Span, segment_at, segments_in, with_gap

router = APIRouter(
    prefix="/api/v1/recordings/playbacks",
    tags=["recordings"],
    responses=problems(AUTHENTICATED),
)
Viewer = Annotated[Principal, requires(VIEW)]
MAX_SEGMENTS = 1000
"""Segments listed when a session opens; the rest through GET /recordings/segments."""
ID = r"^[A-Za-z0-9_-]{1,128}$"
VIEWED, SEEKED = "recording.viewed", "recording.seeked"


class PlaybackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    start: datetime
    end: datetime = Field(description="at most 24 h after start")
    stream: Stream = "processed"


class Playback(BaseModel):
    id: str
    device_id: str
    stream: str
    start: datetime = Field(
        description="what this session may play: the range asked for, "
        "narrowed to the grant behind it"
    )
    end: datetime
    expires_at: datetime
    segments: list[SegmentPublic]
    more_segments: bool = Field(
        description=f"true when the range holds more than {MAX_SEGMENTS} segments"
    )


class SeekRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime


class Seek(BaseModel):
    segment: SegmentPublic


def _best(seen_spans: list[Span]) -> int:
    lengths = [s.end - s.start for s in seen_spans]
    return lengths.index(max(lengths))


@router.post("", status_code=201, summary="Open a playback session", responses=problems(BODY, 404))
async def open_playback(
    body: PlaybackRequest, principal: Viewer, services: ServicesDep, address: AddressDep
) -> Playback:
    """Open an audited viewing session of one device's recordings between two times."""
    span = window(body.start, body.end)
    seen = await allowed(services, principal, body.device_id, body.stream, span)
    grant = None
    if seen.grants:
        pick = _best(seen.spans)
        span, grant = seen.spans[pick], seen.grants[pick]
    now = services.clock.now()
    async with services.db.transaction() as session:
        row = RecordingPlayback(
            viewer_id=principal.id,
            device_id=body.device_id,
            stream=body.stream,
            starts_at=span.start,
            ends_at=span.end,
            grant_id=None if grant is None else grant.id,
            created_at=now,
            expires_at=expiry(now, None if grant is None else grant.expires_at),
        )
        session.add(row)
        await session.flush()
        found = await segments_in(
            session, body.device_id, body.stream, [span], limit=MAX_SEGMENTS + 1
        )
        event = audit_event(
            VIEWED,
            by=principal,
            address=address,
            resource_type="device",
            resource_id=body.device_id,
            playback_id=row.id,
            stream=body.stream,
            start=span.start.isoformat(),
            end=span.end.isoformat(),
            grant_id=row.grant_id,
            break_glass_id=seen.break_glass_id,
        )
        await services.audit.append(session, event)
    return Playback(
        id=row.id,
        device_id=row.device_id,
        stream=row.stream,
        start=span.start,
        end=span.end,
        expires_at=row.expires_at,
        segments=listed_public(found[:MAX_SEGMENTS]),
        more_segments=len(found) > MAX_SEGMENTS,
    )


@router.post(
    "/{playback_id}/seeks", summary="Seek within a playback", responses=problems(BODY, 404)
)
async def seek(
    playback_id: str,
    body: SeekRequest,
    principal: Viewer,
    services: ServicesDep,
    address: AddressDep,
) -> Seek:
    """The segment holding ``at`` (or the next one after a gap); audited."""
    at = utc(body.at, "at")
    row = await live_playback(services, principal, playback_id, address)
    async with services.db.transaction() as session:
        found = await segment_at(session, row.device_id, row.stream, at, span_of(row))
        if found is None:
            raise NotFound("nothing is recorded at or after that time in this playback")
        listed = await with_gap(session, found)
        event = audit_event(
            SEEKED,
            by=principal,
            address=address,
            resource_type="device",
            resource_id=row.device_id,
            playback_id=row.id,
            stream=row.stream,
            at=at.isoformat(),
            segment_id=found.id,
        )
        await services.audit.append(session, event)
    return Seek(segment=segment_public(listed.row, listed.after_gap))


WEBM: dict[str, Any] = {"video/webm": {"schema": {"type": "string", "format": "binary"}}}
MEDIA_HEADERS: dict[str, Any] = {
    "Accept-Ranges": {"description": "bytes", "schema": {"type": "string"}},
}


MEDIA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole segment, verified", "content": WEBM, "headers": MEDIA_HEADERS},
    206: {
        "description": "The first range asked for, verified",
        "content": WEBM,
        "headers": MEDIA_HEADERS
        | {"Content-Range": {"description": "bytes F-L/N", "schema": {"type": "string"}}},
    },
}


@router.get(
    "/{playback_id}/segments/{segment_id}",
    summary="Play one segment",
    response_class=Response,
    responses=MEDIA_RESPONSES | problems(404, 409, 410, 416, 422),
)
async def segment_media(
    *,
    playback_id: str,
    segment_id: str,
    principal: Viewer,
    services: ServicesDep,
    address: AddressDep,
    range_header: Annotated[str | None, Header(alias="Range", max_length=1024)] = None,
) -> Response:
    """The decrypted WebM of one segment (HTTP Range supported); 404 once the session ended."""
    playback = await live_playback(services, principal, playback_id, address)
    async with services.db.sessions() as session:
        row = await session.get(RecordingSegment, segment_id)
    if (
        row is None
        or (row.device_id, row.stream) != (playback.device_id, playback.stream)
        or row.started_at >= playback.ends_at
        or row.ended_at <= playback.starts_at
    ):
        raise NotFound("no such segment")
    vault = services.recordings
    try:
        served = await serve_segment(vault.store, vault.ring_for(row.stream), row, range_header)
    except SegmentTampered:
        await report_tampered(vault, row, by=principal, address=address)
        raise
    egress(principal, address, len(served.data), "recording_segment", device_id=row.device_id)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
    if served.partial:
        headers["Content-Range"] = served.content_range
    return Response(
        content=served.data,
        status_code=206 if served.partial else 200,
        media_type="video/webm",
        headers=headers,
    )
