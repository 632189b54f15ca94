"""``/api/v1/privacy``: a data subject's export (Art. 15 and 20) and erasure (Art. 17).

Needs ``compliance_manage`` and a caller scoped to every site and device (both reach
rows from everywhere). An erasure is requested, then approved by a second person,
which runs it and answers its signed certificate (``privacy.erasure``). It erases an
account (``POST /erasures``) or the recorded video of a device or site over a time
range, for a person filmed (``POST /erasures/recordings``,
``privacy/recording_erasure.py``); reading and approving are the same for both.

An export's zip is written to a private temporary file first, so the size bound and
every error are answered as problems before any byte is sent; it is removed once sent.
Audited as ``privacy.export`` with the zip's SHA-256.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as FastPath
from fastapi.responses import FileResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from starlette.background import BackgroundTask

from lensguard.access.principal import Principal
from lensguard.api.compliance import ACTION, EVERY_ACCOUNT
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.egress import egress
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.identity.auditing import audit_event
from lensguard.identity.enforce import authorize
from lensguard.privacy import erasure, recording_erasure
from lensguard.privacy.export import write_export
from lensguard.private import private_dir

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"], responses=problems(AUTHENTICATED))
Officer = Annotated[Principal, requires(ACTION)]
EXPORTED = "privacy.export"
ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The subject's data: manifest.json, tables/*.jsonl, audit.jsonl",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="the account's id or username"
    )


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


@router.post(
    "/exports",
    summary="Export a data subject's data",
    responses=ZIP | problems(BODY, 404, 409),
    response_class=FileResponse,
)
async def export(
    body: ExportRequest, principal: Officer, services: ServicesDep, address: AddressDep
) -> FileResponse:
    """Everything kept about one person, as a zip (schema in docs/privacy.md)."""
    authorize(principal, ACTION, EVERY_ACCOUNT)
    folder = private_dir(services.settings.var_dir / "tmp")
    handle = tempfile.NamedTemporaryFile(dir=folder, suffix=".zip", delete=False)  # noqa: SIM115
    handle.close()
    path = Path(handle.name)
    try:
        result = await write_export(
            services.db,
            services.audit,
            body.user,
            path,
            max_bytes=services.settings.privacy.export_max_bytes,
            requested_by=principal.id,
            now=services.clock.now(),
            fields=services.fields,
        )
        rows = {f["name"]: f["rows"] for f in result.manifest["files"]}
        event = audit_event(
            EXPORTED,
            by=principal,
            address=address,
            resource_type="user",
            resource_id=result.user_id,
            sha256=result.sha256,
            bytes=result.size,
            rows=rows,
        )
        async with services.db.transaction() as session:
            await services.audit.append(session, event)
    except BaseException:
        _remove(path)
        raise
    egress(principal, address, result.size, "subject_export", user_id=result.user_id)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"subject-{result.user_id}.zip",
        headers={"Cache-Control": "private, no-store", "X-Content-SHA256": result.sha256},
        background=BackgroundTask(_remove, path),
    )


class ErasureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="the account's id or username"
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=500)]


class RecordingErasureCreate(BaseModel):
    """Erase what one device (or every device of a site) recorded from ``start`` to ``end``."""

    model_config = ConfigDict(extra="forbid")

    device_id: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = Field(
        default=None, description="the device whose recordings go (or give site)"
    )
    site: (
        Annotated[
            str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.-]*$")
        ]
        | None
    ) = Field(default=None, description="every device of this site (or give device_id)")
    start: AwareDatetime = Field(description="ISO 8601 with a time zone")
    end: AwareDatetime = Field(
        description="ISO 8601 with a time zone; after start, not in the future, at most "
        "privacy.recording_erasure_max_days after start"
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=500)]

    @model_validator(mode="after")
    def _one_scope(self) -> RecordingErasureCreate:
        if (self.device_id is None) == (self.site is None):
            raise ValueError("give device_id or site, not both")
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class ErasurePublic(BaseModel):
    id: str
    kind: str = Field(description="account, or recordings")
    user_id: str | None = Field(description="kind account: the account erased")
    device_id: str | None = Field(description="kind recordings: the device")
    site: str | None = Field(description="kind recordings: the site (all its devices)")
    range_start: datetime | None = Field(description="kind recordings: start of the range")
    range_end: datetime | None = Field(description="kind recordings: end of the range")
    segments: int = Field(description="kind recordings: segments shredded so far")
    state: str = Field(description="pending, or done")
    requested_by: str | None
    requested_at: datetime
    approved_by: str | None
    finished_at: datetime | None
    certificate: dict[str, Any] | None = Field(
        description="the signed certificate of erasure, once done (docs/privacy.md)"
    )


def _public(found: erasure.ErasureView) -> ErasurePublic:
    return ErasurePublic(**found.__dict__)


RequestId = Annotated[str, FastPath(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post(
    "/erasures",
    status_code=201,
    summary="Request an erasure",
    responses=problems(BODY, 404, 409),
)
async def request_erasure(
    body: ErasureCreate, principal: Officer, services: ServicesDep, address: AddressDep
) -> ErasurePublic:
    """Ask for one account's personal data to be erased; a second officer approves it."""
    authorize(principal, ACTION, EVERY_ACCOUNT)
    found = await erasure.request(
        services, body.user, reason=body.reason, by=principal, address=address
    )
    return _public(found)


@router.post(
    "/erasures/recordings",
    status_code=201,
    summary="Request an erasure of recorded video",
    responses=problems(BODY, 404, 409),
)
async def request_recording_erasure(
    body: RecordingErasureCreate, principal: Officer, services: ServicesDep, address: AddressDep
) -> ErasurePublic:
    """Ask for a device's (or a site's) recordings in a time range to be crypto-shredded,
    for a person filmed; a second officer approves it. Refused while a legal hold touches
    the range (409, naming the hold)."""
    authorize(principal, ACTION, EVERY_ACCOUNT)
    found = await recording_erasure.request(
        services,
        device_id=body.device_id,
        site=body.site,
        start=body.start,
        end=body.end,
        reason=body.reason,
        by=principal,
        address=address,
    )
    return _public(found)


@router.get("/erasures/{request_id}", summary="Read an erasure", responses=problems(404, 422))
async def read_erasure(
    request_id: RequestId, principal: Officer, services: ServicesDep
) -> ErasurePublic:
    """The request, and its certificate once done."""
    authorize(principal, ACTION, EVERY_ACCOUNT)
    return _public(await erasure.get(services, request_id))


@router.post(
    "/erasures/{request_id}/approve",
    summary="Approve and run an erasure",
    responses=problems(404, 409, 422),
)
async def approve_erasure(
    request_id: RequestId, principal: Officer, services: ServicesDep, address: AddressDep
) -> ErasurePublic:
    """Run the erasure (a second person, unless four eyes are off); idempotent."""
    authorize(principal, ACTION, EVERY_ACCOUNT)
    found = await recording_erasure.approve(
        services,
        request_id,
        by=principal,
        address=address,
        four_eyes=services.settings.privacy.erasure_four_eyes,
    )
    return _public(found)
