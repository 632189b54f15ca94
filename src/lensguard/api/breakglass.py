"""Break-glass: an audited, time-limited unredacted view of one redacted stream.

A user whose role grants ``redaction_override`` states a reason and a duration; the
grant lets that user (and nobody else) subscribe to the device's raw encoding until
it expires or is ended. The grant, its reason, each viewing and its length are in
the audit trail, and every grant raises a high-severity security event (alerts).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.devices import visible_device
from lensguard.api.pages import PAGED, Listing, PageDep, stamp
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.errors import Conflict, NotFound
from lensguard.identity.auditing import append, audit_event
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store.models import RedactionOverride
from lensguard.store.streams import stream_policy
from lensguard.store.types import utcnow

router = APIRouter(
    prefix="/api/v1/streams", tags=["break-glass"], responses=problems(AUTHENTICATED)
)
Overrider = Annotated[Principal, requires("redaction_override")]
ACTION = "redaction_override"


class BreakGlassRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=10, max_length=500, description="why the unredacted view is needed"
    )
    minutes: int = Field(default=15, ge=1, le=60, description="how long the grant lasts")

    @field_validator("reason")
    @classmethod
    def _meaningful(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value) < 10:
            raise ValueError("state the reason in at least 10 characters")
        return value


class BreakGlassGrant(BaseModel):
    id: str
    device_id: str
    reason: str
    granted_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


GRANTS: Listing[BreakGlassGrant] = Listing(
    "break-glass", key=lambda g: (stamp(g.granted_at), g.id), parts=(str, str)
)


def _public(row: RedactionOverride) -> BreakGlassGrant:
    return BreakGlassGrant(
        id=row.id,
        device_id=row.device_id,
        reason=row.reason,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
    )


@router.post(
    "/{device_id}/break-glass",
    status_code=201,
    summary="Open a break-glass grant",
    responses=problems(BODY, 404, 409),
)
async def grant(
    device_id: str,
    body: BreakGlassRequest,
    principal: Overrider,
    services: ServicesDep,
    address: AddressDep,
) -> BreakGlassGrant:
    """Open an unredacted view of a redacted stream for yourself, with a reason."""
    await visible_device(services, principal, device_id, ACTION)
    async with services.db.transaction() as session:
        policy = await stream_policy(session, device_id)
        if policy is None or not policy.redact_faces:
            raise Conflict("this stream is not redacted; there is nothing to override")
        now = utcnow()
        row = RedactionOverride(
            device_id=device_id,
            user_id=principal.id,
            reason=body.reason,
            granted_at=now,
            expires_at=now + timedelta(minutes=body.minutes),
        )
        session.add(row)
        await session.flush()
        event = audit_event(
            "redaction.override.grant",
            by=principal,
            address=address,
            resource_type="device",
            resource_id=device_id,
            grant_id=row.id,
            reason=body.reason,
            minutes=body.minutes,
            expires_at=row.expires_at.isoformat(),
            redaction_from=policy.redaction_from,
        )
        await append(services, session, event)
    emit(
        "redaction.override_granted",
        severity=Severity.HIGH,
        principal=principal.id,
        device_id=device_id,
        grant_id=row.id,
        minutes=body.minutes,
        address=address,
    )
    return _public(row)


@router.get(
    "/{device_id}/break-glass",
    summary="List your open grants",
    responses=PAGED | problems(404, 422),
)
async def mine(
    device_id: str,
    principal: Overrider,
    services: ServicesDep,
    page: PageDep,
) -> list[BreakGlassGrant]:
    """Your grants on this device that are still open."""
    await visible_device(services, principal, device_id, ACTION)
    async with services.db.sessions() as session:
        rows = (
            await session.execute(
                select(RedactionOverride)
                .where(
                    RedactionOverride.device_id == device_id,
                    RedactionOverride.user_id == principal.id,
                    RedactionOverride.ended_at.is_(None),
                    RedactionOverride.expires_at > utcnow(),
                )
                .order_by(RedactionOverride.granted_at)
            )
        ).scalars()
        return GRANTS.paginate([_public(r) for r in rows], page)


@router.delete(
    "/{device_id}/break-glass/{grant_id}",
    status_code=204,
    summary="End a break-glass grant",
    responses=problems(404, 422),
)
async def end(
    device_id: str,
    grant_id: str,
    principal: Overrider,
    services: ServicesDep,
    address: AddressDep,
) -> Response:
    """End your grant now: its viewers see the redacted picture again at once."""
    await visible_device(services, principal, device_id, ACTION)
    async with services.db.transaction() as session:
        row = await session.get(RedactionOverride, grant_id)
        if row is None or row.device_id != device_id or row.user_id != principal.id:
            raise NotFound("no such grant")
        if row.ended_at is None and row.expires_at > utcnow():
            row.ended_at = utcnow()
            event = audit_event(
                "redaction.override.end",
                by=principal,
                address=address,
                resource_type="device",
                resource_id=device_id,
                grant_id=grant_id,
            )
            await append(services, session, event)
    await services.announce_override_end(device_id, grant_id, "ended")
    return Response(status_code=204)
