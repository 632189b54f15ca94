"""Break-glass: an audited, time-limited unredacted view of one redacted stream.

A user whose role grants ``redaction_override`` states a reason and a duration; the
grant lets that user (and nobody else) subscribe to the device's raw encoding until
it expires or is ended. The grant, its reason, each viewing and its length are in
the audit trail, and every grant raises a high-severity security event (alerts).
The rules live in the streams room (``streams/room.py``); this router parses,
authorises and maps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.devices import visible_device
from lensguard.api.pages import PAGED, Listing, PageDep, stamp
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.store.models import RedactionOverride

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
    row = await services.streams.grant(
        device_id, by=principal, reason=body.reason, minutes=body.minutes, address=address
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
    grants = await services.streams.open_grants(device_id, principal.id)
    return GRANTS.paginate([_public(r) for r in grants], page)


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
    await services.streams.end_grant(device_id, grant_id, by=principal, address=address)
    return Response(status_code=204)
