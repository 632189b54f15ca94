"""``/api/v1/recordings/exports``: signed evidence bundles of a device's range.

``POST`` builds one bundle synchronously (at most 2 h and 256 MiB of stored segments)
and audits ``recording.exported`` (who, device, range, reason, bundle SHA-256);
``GET /{id}`` downloads it (a zip), audited ``recording.export_downloaded``. Both need
``recording_export`` on the device in the caller's own scope (a recording grant lets
someone watch, not export); anything else is a 404. docs/recordings.md ("Evidence
export") says what a bundle holds and how it is checked offline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, authorize, requires
from lensguard.api.egress import egress
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.recordings_scope import (
    EXPORT,
    NO_RAW,
    Stream,
    break_glass,
    device_resource,
    get_device,
    window,
)
from lensguard.errors import Conflict, NotFound, ValidationFailed
from lensguard.identity.auditing import audit_event
from lensguard.identity.context import ISSUER
from lensguard.monitor.event import SecurityEvent
from lensguard.recordings.clip import ClipError
from lensguard.recordings.crypto import SegmentIntegrityError
from lensguard.recordings.evidence_keys import EvidenceKeys
from lensguard.recordings.export import (
    EXPORTED,
    MAX_RANGE,
    ExportRequest,
    create_export,
    open_export,
)
from lensguard.recordings.export_models import RecordingExport
from lensguard.recordings.keys import KeyUnavailable
from lensguard.recordings.ranges import NothingRecorded, RangeTooLarge, TamperedSegment
from lensguard.recordings.serve import SegmentShredded, SegmentTampered
from lensguard.recordings.tamper import TAMPERED_EVENT, report_tampered
from lensguard.services import Services
from lensguard.severity import Severity

router = APIRouter(
    prefix="/api/v1/recordings/exports", tags=["recordings"], responses=problems(AUTHENTICATED)
)
Exporter = Annotated[Principal, requires(EXPORT)]
DOWNLOADED = "recording.export_downloaded"
NOTHING = "nothing is recorded in that range"


class ExportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    start: datetime
    end: datetime = Field(description="at most 2 h after start")
    reason: str = Field(min_length=3, max_length=500, description="why: a case or request")
    stream: Stream = "processed"


class Export(BaseModel):
    id: str
    device_id: str
    stream: str
    start: datetime
    end: datetime
    reason: str
    created_at: datetime
    created_by: str
    kid: str = Field(description="the evidence key that signed it (in /.well-known/jwks.json)")
    bytes: int
    sha256: str = Field(description="SHA-256 of the bundle (the zip), as audited")


def _public(row: RecordingExport) -> Export:
    return Export(
        id=row.id,
        device_id=row.device_id,
        stream=row.stream,
        start=row.starts_at,
        end=row.ends_at,
        reason=row.reason,
        created_at=row.created_at,
        created_by=row.created_by,
        kid=row.kid,
        bytes=row.size,
        sha256=row.digest,
    )


async def _may_export(
    services: Services, principal: Principal, device_id: str, stream: str
) -> str | None:
    device = await get_device(services, device_id)
    authorize(principal, EXPORT, device_resource(device), hide=True)
    if stream != "raw":
        return None
    grant_id = await break_glass(services, principal, device.id)
    if grant_id is None:
        raise NotFound(NO_RAW)
    return grant_id


async def _bundle_tampered(
    services: Services, principal: Principal, row: RecordingExport, address: str
) -> None:
    """A stored bundle that fails its digest: a HIGH event and an audit row, as a segment."""
    events = services.recordings.events
    events.publish(
        SecurityEvent(
            TAMPERED_EVENT,
            Severity.HIGH,
            principal=principal.id,
            resource=row.device_id,
            outcome="failure",
            address=address,
            fields={"export_id": row.id},
            time=events.now(),
        )
    )
    event = audit_event(
        TAMPERED_EVENT,
        "failure",
        by=principal,
        address=address,
        resource_type="recording_export",
        resource_id=row.id,
        device_id=row.device_id,
    )
    async with services.db.transaction() as session:
        await services.audit.append(session, event)


@router.post(
    "", status_code=201, summary="Export signed evidence", responses=problems(BODY, 404, 409, 410)
)
async def create(
    body: ExportBody, principal: Exporter, services: ServicesDep, address: AddressDep
) -> Export:
    """Build a signed evidence bundle of one device's range (≤ 2 h) and keep it encrypted."""
    span = window(body.start, body.end, longest=MAX_RANGE)
    break_glass_id = await _may_export(services, principal, body.device_id, body.stream)
    event = audit_event(
        EXPORTED,
        by=principal,
        address=address,
        resource_type="device",
        resource_id=body.device_id,
        break_glass_id=break_glass_id,
    )
    exporter: dict[str, Any] = {
        "type": event.actor_type,
        "id": principal.id,
        "name": principal.name,
    }
    request = ExportRequest(
        device_id=body.device_id,
        start=span.start,
        end=span.end,
        reason=body.reason,
        exporter=exporter,
        stream=body.stream,
    )
    keys = EvidenceKeys(services.db, wrap_key=services.wrap_key)
    try:
        row = await create_export(
            services.recordings,
            keys,
            request,
            server_id=ISSUER,
            now=services.clock.now(),
            audit=event,
        )
    except (NothingRecorded, ClipError) as exc:
        if isinstance(exc, ClipError) and "no recorded" not in str(exc):
            raise Conflict("the recorded segments of that range cannot make one clip") from None
        raise NotFound(NOTHING) from None
    except RangeTooLarge as exc:
        raise ValidationFailed(
            str(exc), errors=[{"field": "end", "message": str(exc), "type": "value"}]
        ) from None
    except TamperedSegment as exc:
        await report_tampered(services.recordings, exc.row, by=principal, address=address)
        raise SegmentTampered(
            "a segment of that range failed verification; nothing was exported"
        ) from None
    except KeyUnavailable:
        raise SegmentShredded("part of that range was deleted for good") from None
    return _public(row)


ZIP: dict[str, Any] = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
BUNDLE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The signed bundle (zip)", "content": ZIP}
}


@router.get(
    "/{export_id}",
    summary="Download an evidence bundle",
    response_class=Response,
    responses=BUNDLE | problems(404, 409, 410, 422),
)
async def download(
    export_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,128}$")],
    principal: Exporter,
    services: ServicesDep,
    address: AddressDep,
) -> Response:
    """The bundle as built (a zip), checked against its audited SHA-256; audited."""
    async with services.db.sessions() as session:
        row = await session.get(RecordingExport, export_id)
    if row is None:
        raise NotFound("no such export")
    try:
        await _may_export(services, principal, row.device_id, row.stream)
    except NotFound:
        raise NotFound("no such export") from None
    try:
        bundle = await open_export(services.recordings, row)
    except SegmentIntegrityError:
        await _bundle_tampered(services, principal, row, address)
        raise SegmentTampered("the stored bundle failed verification") from None
    except KeyUnavailable:
        raise SegmentShredded("the bundle was deleted for good") from None
    event = audit_event(
        DOWNLOADED,
        by=principal,
        address=address,
        resource_type="device",
        resource_id=row.device_id,
        export_id=row.id,
        start=row.starts_at.isoformat(),
        end=row.ends_at.isoformat(),
        bundle_sha256=row.digest,
    )
    async with services.db.transaction() as session:
        await services.audit.append(session, event)
    egress(principal, address, len(bundle), "export_download", device_id=row.device_id)
    return Response(
        content=bundle,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{row.id}.zip"',
            "Cache-Control": "private, no-store",
        },
    )
