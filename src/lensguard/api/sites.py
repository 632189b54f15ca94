"""``/api/v1/sites/{site}/policy``: stream rules for every device of a site.

A site's policy is a floor its devices cannot lower: with ``redact_faces`` on, every
stream of the site is redacted whatever the device's own settings say. Changes
apply live on every node and are audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from lensguard.access.principal import Principal, Resource
from lensguard.api.deps import AddressDep, ServicesDep, authorize, requires
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.streams import check_models
from lensguard.identity.auditing import append, audit_event
from lensguard.store.models import SitePolicy
from lensguard.store.streams import site_device_ids

router = APIRouter(prefix="/api/v1/sites", tags=["sites"], responses=problems(AUTHENTICATED))
Viewer = Annotated[Principal, requires("camera_view")]
Manager = Annotated[Principal, requires("device_manage")]
SiteName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class SitePolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redact_faces: bool = False
    ai_models: list[str] = Field(default_factory=list, max_length=8)


class SitePolicyPublic(SitePolicyUpdate):
    site: str
    devices: int = Field(description="how many devices of the site the policy covers")


def _site(site: str) -> Resource:
    return Resource(kind="site", site=site)


def _public(site: str, row: SitePolicy | None, devices: int) -> SitePolicyPublic:
    if row is None:
        return SitePolicyPublic(site=site, devices=devices)
    return SitePolicyPublic(
        site=site, redact_faces=row.redact_faces, ai_models=list(row.ai_models), devices=devices
    )


@router.get("/{site}/policy", summary="Read a site policy", responses=problems(404, 422))
async def read(site: SiteName, principal: Viewer, services: ServicesDep) -> SitePolicyPublic:
    """The stream policy of a site in your scope."""
    authorize(principal, "camera_view", _site(site), hide=True)
    async with services.db.sessions() as session:
        devices = len(await site_device_ids(session, site))
        return _public(site, await session.get(SitePolicy, site), devices)


@router.put("/{site}/policy", summary="Set a site policy", responses=problems(BODY, 404))
async def update(
    site: SiteName,
    body: SitePolicyUpdate,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> SitePolicyPublic:
    """Set the site's redaction and processors; every relay of the site applies it live."""
    authorize(principal, "device_manage", _site(site), hide=True)
    check_models(body.ai_models)
    async with services.db.transaction() as session:
        row = await session.get(SitePolicy, site)
        before = _public(site, row, 0).model_dump(include={"redact_faces", "ai_models"})
        if row is None:
            row = SitePolicy(site=site)
            session.add(row)
        row.redact_faces, row.ai_models = body.redact_faces, list(body.ai_models)
        await session.flush()
        devices = len(await site_device_ids(session, site))
        event = audit_event(
            "site.policy.configure",
            by=principal,
            address=address,
            resource_type="site",
            resource_id=site,
            before=before,
            after=body.model_dump(),
        )
        await append(services, session, event)
    await services.announce_site(site)
    return _public(site, row, devices)
