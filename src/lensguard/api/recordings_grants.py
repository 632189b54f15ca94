"""``/api/v1/recordings/grants``: share a range of one device's recordings for N hours.

Sharing is a form of export, so every route needs ``recording_export`` on the grant's
device (404 otherwise, as for a missing grant). A grant names one user or one role
whose permissions include ``recording_view`` (a grant widens scope, never
permissions). Creating and revoking are audited and raise a security event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lensguard.access.can import can
from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, authorize, requires
from lensguard.api.pages import PAGED, Listing, PageDep, stamp
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.recordings_scope import EXPORT, VIEW, device_resource, get_device, window
from lensguard.errors import NotFound, ValidationFailed
from lensguard.identity.auditing import audit_event
from lensguard.monitor.events import emit
from lensguard.recordings import grants
from lensguard.recordings.access_models import RecordingGrant
from lensguard.services import Services
from lensguard.severity import Severity
from lensguard.store import devices as device_repo
from lensguard.store import users as user_repo

router = APIRouter(
    prefix="/api/v1/recordings/grants", tags=["recordings"], responses=problems(AUTHENTICATED)
)
Exporter = Annotated[Principal, requires(EXPORT)]
MAX_SHARED_RANGE = timedelta(days=31)
"""The longest range of recordings one grant shares."""
ID = r"^[A-Za-z0-9_-]{1,64}$"


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(min_length=1, max_length=64, pattern=ID)
    start: datetime
    end: datetime = Field(description="at most 31 days after start")
    user_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=ID)
    role: str | None = Field(default=None, min_length=1, max_length=32, pattern=ID)
    hours: int = Field(ge=grants.MIN_HOURS, le=grants.MAX_HOURS, description="how long it lasts")

    @model_validator(mode="after")
    def _one_grantee(self) -> GrantRequest:
        if (self.user_id is None) == (self.role is None):
            raise ValueError("name exactly one of user_id and role")
        return self


class GrantPublic(BaseModel):
    id: str
    device_id: str
    start: datetime
    end: datetime
    user_id: str | None
    role: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool


GRANTS: Listing[GrantPublic] = Listing(
    "recording-grants",
    key=lambda g: (stamp(g.created_at), g.id),
    parts=(str, str),
    newest_first=True,
)


def _public(row: RecordingGrant, now: datetime) -> GrantPublic:
    return GrantPublic(
        id=row.id,
        device_id=row.device_id,
        start=row.starts_at,
        end=row.ends_at,
        user_id=row.user_id,
        role=row.role,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        active=grants.active(row, now),
    )


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message, "type": "value"}])


async def _check_grantee(services: Services, body: GrantRequest) -> None:
    if body.role is not None:
        services.policy.require_role_or_invalid(body.role)
        role = body.role
    else:
        async with services.db.sessions() as session:
            user = await user_repo.get_user(session, user_id=str(body.user_id))
        if user is None:
            raise NotFound("no such user")
        role = user.role
    if VIEW not in services.policy.grants(role):
        raise _refuse(
            "role" if body.role else "user_id", "the grantee's role cannot watch recordings"
        )


@router.post("", status_code=201, summary="Share recordings", responses=problems(BODY, 404))
async def create(
    body: GrantRequest, principal: Exporter, services: ServicesDep, address: AddressDep
) -> GrantPublic:
    """Share a range of one device's recordings with a user or role for 1 to 720 hours."""
    span = window(body.start, body.end, longest=MAX_SHARED_RANGE)
    device = await get_device(services, body.device_id)
    authorize(principal, EXPORT, device_resource(device), hide=True)
    await _check_grantee(services, body)
    now = services.clock.now()
    async with services.db.transaction() as session:
        row = await grants.create(
            session,
            device_id=device.id,
            start=span.start,
            end=span.end,
            user_id=body.user_id,
            role=body.role,
            hours=body.hours,
            by=principal,
            now=now,
        )
        event = audit_event(
            "recording.grant_created",
            by=principal,
            address=address,
            resource_type="device",
            resource_id=device.id,
            grant_id=row.id,
            start=span.start.isoformat(),
            end=span.end.isoformat(),
            user_id=body.user_id,
            role=body.role,
            hours=body.hours,
            expires_at=row.expires_at.isoformat(),
        )
        await services.audit.append(session, event)
    emit(
        "recording.shared",
        severity=Severity.MEDIUM,
        principal=principal.id,
        device_id=device.id,
        grant_id=row.id,
        hours=body.hours,
    )
    return _public(row, now)


@router.get("", summary="List recording grants", responses=PAGED | problems(422))
async def list_grants(
    principal: Exporter,
    services: ServicesDep,
    page: PageDep,
    device_id: Annotated[str | None, Query(min_length=1, max_length=64, pattern=ID)] = None,
) -> list[GrantPublic]:
    """Grants on devices you may export (newest first), active or not."""
    async with services.db.sessions() as session:
        rows = await grants.listed(session, None if device_id is None else [device_id])
        devices = {
            d.id: d
            for d in await device_repo.list_devices(session)
            if can(principal, EXPORT, device_resource(d))
        }
    now = services.clock.now()
    shown = [_public(r, now) for r in rows if r.device_id in devices]
    return GRANTS.paginate(shown, page)


@router.delete(
    "/{grant_id}", status_code=204, summary="Revoke a recording grant", responses=problems(404, 422)
)
async def revoke(
    grant_id: str, principal: Exporter, services: ServicesDep, address: AddressDep
) -> Response:
    """End a grant now: playback resting on it stops at its next segment."""
    now = services.clock.now()
    async with services.db.transaction() as session:
        row = await grants.get(session, grant_id)
        device = (
            None if row is None else await device_repo.get_device(session, device_id=row.device_id)
        )
        if row is None or device is None or not can(principal, EXPORT, device_resource(device)):
            raise NotFound("no such grant")
        if row.revoked_at is None:
            row.revoked_at = now
            event = audit_event(
                "recording.grant_revoked",
                by=principal,
                address=address,
                resource_type="device",
                resource_id=row.device_id,
                grant_id=row.id,
            )
            await services.audit.append(session, event)
    return Response(status_code=204)
