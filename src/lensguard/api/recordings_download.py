"""``GET /api/v1/recordings/download``: one playable WebM of a range, audited.

Needs ``recording_export`` on the device in the caller's own scope (a recording grant
shares viewing, never downloading). Every segment of the range is checked against
its index row and its chain neighbour and decrypted with every chunk verified
(``recordings/ranges.py``) before the clip is muxed (``recordings/clip.py``, no
re-encoding) and sent; a segment that fails is reported as ``recording.tampered``
and nothing is sent. At most an hour and 512 MiB of stored segments per download.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, authorize, requires
from lensguard.api.egress import egress
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.api.recordings_scope import EXPORT, device_resource, get_device, window
from lensguard.errors import NotFound, ValidationFailed
from lensguard.identity.auditing import audit_event
from lensguard.recordings.clip import ClipError, ClipSource, build_clip
from lensguard.recordings.crypto import SegmentIntegrityError
from lensguard.recordings.keys import KeyUnavailable
from lensguard.recordings.ranges import NothingRecorded, RangeTooLarge, read_range
from lensguard.recordings.serve import SegmentShredded, SegmentTampered
from lensguard.recordings.tamper import report

router = APIRouter(
    prefix="/api/v1/recordings", tags=["recordings"], responses=problems(AUTHENTICATED)
)
Exporter = Annotated[Principal, requires(EXPORT)]
MAX_DOWNLOAD = timedelta(hours=1)
MAX_DOWNLOAD_BYTES = 512 * 1024**2
DOWNLOADED = "recording.downloaded"
ID = r"^[A-Za-z0-9_-]{1,64}$"
WEBM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One playable WebM of the range (VP8, not re-encoded)",
        "content": {"video/webm": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="recording-….webm"',
                "schema": {"type": "string"},
            }
        },
    }
}


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": "end", "message": message, "type": "value"}])


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@router.get(
    "/download",
    summary="Download a range as one WebM",
    response_class=Response,
    responses=WEBM | problems(404, 409, 410, 422),
)
async def download(
    *,
    principal: Exporter,
    services: ServicesDep,
    address: AddressDep,
    device_id: Annotated[str, Query(pattern=ID)],
    start: Annotated[datetime, Query(description="ISO 8601 with a time zone")],
    end: Annotated[datetime, Query(description="at most an hour after start")],
) -> Response:
    """One playable WebM of ``[start, end)`` of a device's recordings (≤ 1 h), audited."""
    span = window(start, end, longest=MAX_DOWNLOAD)
    device = await get_device(services, device_id)
    authorize(principal, EXPORT, device_resource(device), hide=True)
    vault = services.recordings
    try:
        async with services.db.sessions() as session:
            segments = await read_range(
                session,
                vault.store,
                vault.ring_for("processed"),
                device.id,
                start=span.start,
                end=span.end,
                max_bytes=MAX_DOWNLOAD_BYTES,
            )
    except NothingRecorded:
        raise NotFound("nothing was recorded in that range") from None
    except RangeTooLarge:
        raise _invalid("that range holds too much video for one download; ask for less") from None
    except KeyUnavailable:
        raise SegmentShredded(
            "part of that range was deleted (its keys were destroyed); ask for another range"
        ) from None
    except SegmentIntegrityError:
        await report(
            vault,
            device_id=device.id,
            fields={"start": span.start.isoformat(), "end": span.end.isoformat()},
            resource=("device", device.id),
            by=principal,
            address=address,
        )
        raise SegmentTampered(
            "a segment of that range failed verification; nothing was sent and it was reported"
        ) from None
    sources = [ClipSource(s.row.started_at, s.plaintext) for s in segments]
    try:
        clip = await asyncio.to_thread(build_clip, sources, span.start, span.end)
    except ClipError:
        raise _invalid("these recordings cannot be joined into one file") from None
    event = audit_event(
        DOWNLOADED,
        by=principal,
        address=address,
        resource_type="device",
        resource_id=device.id,
        start=span.start.isoformat(),
        end=span.end.isoformat(),
        clip_start=clip.start.isoformat(),
        clip_end=clip.end.isoformat(),
        segments=len(segments),
        bytes=len(clip.data),
        sha256=hashlib.sha256(clip.data).hexdigest(),
    )
    async with services.db.transaction() as session:
        await services.audit.append(session, event)
    egress(principal, address, len(clip.data), "recording_download", device_id=device.id)
    name = f"recording-{device.id}-{_stamp(clip.start)}.webm"
    return Response(
        content=clip.data,
        media_type="video/webm",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )
