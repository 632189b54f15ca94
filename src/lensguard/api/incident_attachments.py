"""``/api/v1/incidents/{id}/attachments``: an incident's evidence files — add, list, download.

Every route needs ``security_manage``, as the rest of an incident. An upload is the
file itself as the request body (any ``Content-Type``; ``application/octet-stream``
when unsure) with its name in ``?name=``; it is refused before anything is kept when
it is larger than ``incidents.attachment_max_bytes`` (413), when its content is not a
type evidence may have or disagrees with its name or declared type (415,
``incidents.attachment_types``), or when the incident holds
``incidents.attachments_per_incident`` files already (409). A kept file is in the
timeline and the audit chain with its SHA-256; a download is checked against that
digest (409 when the stored file differs, reported as a HIGH event) and audited.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.egress import egress
from lensguard.api.incidents import IncidentId, actor_of
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.errors import NotFound, PayloadTooLarge, UnsupportedMediaType
from lensguard.guard.body import media_type
from lensguard.identity.auditing import audit_event
from lensguard.incidents.attachment_types import TEXT, AttachmentRefused
from lensguard.incidents.attachments import AttachmentTampered, Kept, Upload
from lensguard.recordings.serve import SegmentTampered
from lensguard.recordings.tamper import report

router = APIRouter(
    prefix="/api/v1/incidents", tags=["incidents"], responses=problems(AUTHENTICATED)
)
Manager = Annotated[Principal, requires("security_manage")]
AttachmentId = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
DOWNLOADED = "incident.attachment_downloaded"
_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]")
"""What the plain ``filename`` (RFC 6266's fallback for old clients) replaces with ``_``."""
TAMPERED = "incident.attachment_tampered"
FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file as it was added",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file itself (any media type; its content decides)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class AttachmentView(BaseModel):
    id: str
    incident_id: str
    name: str | None
    """None when its seal does not open (an altered row, or a key lost)."""
    media_type: str
    size: int
    sha256: str
    added_by: str | None
    added_at: datetime


def _view(kept: Kept) -> AttachmentView:
    row = kept.row
    return AttachmentView(
        id=row.id,
        incident_id=row.incident_id,
        name=kept.name,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        added_by=row.added_by,
        added_at=row.added_at,
    )


@router.post(
    "/{incident_id}/attachments",
    status_code=201,
    summary="Add an evidence file to an incident",
    responses=problems(*BODY, 404, 409),
    openapi_extra=UPLOAD,
)
async def add(
    incident_id: IncidentId,
    request: Request,
    *,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
    name: Annotated[str, Query(min_length=1, max_length=200, description="The file's name")],
) -> AttachmentView:
    """Keep the request body as an evidence file of the incident, encrypted; audited."""
    limit = services.settings.incidents.attachment_max_bytes
    content = await request.body()
    if len(content) > limit:
        raise PayloadTooLarge(f"attachments are limited to {limit:,} bytes")
    try:
        upload = Upload.checked(name, content, media_type(request.headers.get("content-type")))
    except AttachmentRefused as exc:
        raise UnsupportedMediaType(str(exc)) from None
    kept = await services.attachments.add(
        incident_id,
        upload,
        at=services.clock.now(),
        actor=actor_of(principal, address),
    )
    return _view(kept)


@router.get(
    "/{incident_id}/attachments",
    summary="List an incident's evidence files",
    responses=problems(404, 422),
)
async def listed(
    incident_id: IncidentId, _principal: Manager, services: ServicesDep
) -> list[AttachmentView]:
    """The incident's files, oldest first (at most ``attachments_per_incident``)."""
    return [_view(kept) for kept in await services.attachments.listed(incident_id)]


@router.get(
    "/{incident_id}/attachments/{attachment_id}",
    summary="Download an evidence file",
    response_class=Response,
    responses=FILE | problems(404, 409, 422),
)
async def download(
    incident_id: IncidentId,
    attachment_id: AttachmentId,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> Response:
    """The file as it was added, checked against its audited SHA-256; audited."""
    attachments = services.attachments
    kept = await attachments.get(incident_id, attachment_id)
    if kept is None:
        raise NotFound("no such attachment")
    row, name = kept.row, kept.name or f"attachment-{kept.row.id}"
    try:
        content = await attachments.read(row)
    except AttachmentTampered:
        await report(
            services.recordings,
            device_id=None,
            fields={"attachment_id": row.id},
            resource=("incident", row.incident_id),
            by=principal,
            address=address,
            event_type=TAMPERED,
        )
        raise SegmentTampered(
            "the stored file failed verification; nothing was sent and it was reported"
        ) from None
    event = audit_event(
        DOWNLOADED,
        by=principal,
        address=address,
        resource_type="incident",
        resource_id=incident_id,
        attachment_id=row.id,
        sha256=row.sha256,
    )
    async with services.db.transaction() as session:
        await services.audit.append(session, event)
    egress(principal, address, len(content), "incident_attachment", incident_id=incident_id)
    served = "text/plain; charset=utf-8" if row.media_type == TEXT.media_type else row.media_type
    return Response(
        content=content,
        media_type=served,
        headers={
            "Content-Disposition": (
                f'attachment; filename="{_ASCII_NAME.sub("_", name)}"; '
                f"filename*=UTF-8''{quote(name, safe='')}"
            ),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
