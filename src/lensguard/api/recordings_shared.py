"""``GET /api/v1/recordings/shared``: the recordings that active grants share with you.

A grant widens its grantee's scope to one device's range (``recordings_grants``), and
that device is often outside the grantee's own scope, so the device list does not
show it. This lists the caller's active grants (to them by id, or to their role)
with the device's name, so the console can offer the shared range to play. It names
nothing the grant itself does not already open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from lensguard.access.principal import Principal
from lensguard.api.deps import ServicesDep, requires
from lensguard.api.pages import PAGED, Listing, PageDep, stamp
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.api.recordings_scope import VIEW
from lensguard.recordings import grants
from lensguard.store import devices as device_repo

router = APIRouter(
    prefix="/api/v1/recordings", tags=["recordings"], responses=problems(AUTHENTICATED)
)
Viewer = Annotated[Principal, requires(VIEW)]


class SharedRecording(BaseModel):
    grant_id: str
    device_id: str
    device_name: str
    site: str
    start: datetime
    end: datetime
    expires_at: datetime


SHARED: Listing[SharedRecording] = Listing(
    "recordings-shared", key=lambda s: (stamp(s.expires_at), s.grant_id), parts=(str, str)
)


@router.get("/shared", summary="Recordings shared with you", responses=PAGED | problems(422))
async def shared_with_me(
    principal: Viewer, services: ServicesDep, page: PageDep
) -> list[SharedRecording]:
    """Your active recording grants (to you or your role), the soonest to expire first."""
    now = services.clock.now()
    async with services.db.sessions() as session:
        rows = [
            r
            for r in await grants.listed(session)
            if grants.active(r, now) and grants.holds(r, principal)
        ]
        devices = {d.id: d for d in await device_repo.list_devices(session)}
    shown = [
        SharedRecording(
            grant_id=r.id,
            device_id=r.device_id,
            device_name=devices[r.device_id].name,
            site=devices[r.device_id].site,
            start=r.starts_at,
            end=r.ends_at,
            expires_at=r.expires_at,
        )
        for r in rows
        if r.device_id in devices  # a removed device's grant opens nothing to play
    ]
    return SHARED.paginate(shown, page)
