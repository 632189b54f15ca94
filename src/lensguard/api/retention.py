"""Retention: a site's own days per recording class, and legal holds on devices.

Both need ``compliance_manage`` within the caller's scope: a site or device outside
it is a 404, like one that does not exist. Every change is audited; the retention
job (``recordings/retention.py``) reads them at its next run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lensguard.access.principal import Principal, Resource
from lensguard.api.deps import AddressDep, ServicesDep, authorize, requires
from lensguard.api.devices import visible_device
from lensguard.api.pages import PAGED, Listing, PageDep, stamp
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.errors import NotFound
from lensguard.recordings import holds as rules
from lensguard.recordings.hold_models import LegalHold, SiteRetention
from lensguard.recordings.settings import CLASSES, RetentionDays
from lensguard.services import Services

router = APIRouter(prefix="/api/v1", tags=["retention"], responses=problems(AUTHENTICATED))
ACTION = "compliance_manage"
Officer = Annotated[Principal, requires(ACTION)]
SiteName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
HoldId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Days = Annotated[int | None, Field(default=None, ge=1, le=36_500)]


def _reason(value: str) -> str:
    value = " ".join(value.split())
    if len(value) < 10:
        raise ValueError("state the reason in at least 10 characters")
    return value


class ClassDays(BaseModel):
    continuous: int
    event: int
    export: int


class SiteRetentionUpdate(BaseModel):
    """A site's own days per class; a class left out or null uses the server's default."""

    model_config = ConfigDict(extra="forbid")

    continuous: Days = None
    event: Days = None
    export: Days = None


class SiteRetentionPublic(BaseModel):
    site: str
    own: SiteRetentionUpdate = Field(description="what the site sets (null: the default)")
    defaults: ClassDays = Field(description="recordings.retention.days in the settings")
    effective: ClassDays = Field(description="what the retention job applies on the site")
    updated_at: datetime | None = None


class HoldRequest(BaseModel):
    """Hold a device's recordings: all of them, or those touching ``start`` to ``end``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=10, max_length=500, description="why, e.g. a case number")
    start: datetime | None = Field(default=None, description="ISO 8601 with a time zone")
    end: datetime | None = Field(default=None, description="ISO 8601 with a time zone")

    _meaningful = field_validator("reason")(_reason)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. Z)")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> HoldRequest:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("end must be after start")
        return self


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=10, max_length=500, description="why the hold can end")

    _meaningful = field_validator("reason")(_reason)


class HoldPublic(BaseModel):
    id: str
    device_id: str
    start: datetime | None
    end: datetime | None
    reason: str
    created_at: datetime
    active: bool
    released_at: datetime | None = None
    release_reason: str | None = None


HOLDS: Listing[HoldPublic] = Listing(
    "legal-holds", key=lambda h: (stamp(h.created_at), h.id), parts=(str, str), newest_first=True
)


def _site_public(
    site: str, defaults: RetentionDays, row: SiteRetention | None
) -> SiteRetentionPublic:
    own = {cls: None if row is None else getattr(row, f"{cls}_days") for cls in CLASSES}
    return SiteRetentionPublic(
        site=site,
        own=SiteRetentionUpdate(**own),
        defaults=ClassDays(**defaults.model_dump()),
        effective=ClassDays(**rules.site_days(defaults, row).model_dump()),
        updated_at=None if row is None else row.updated_at,
    )


def _hold_public(row: LegalHold) -> HoldPublic:
    return HoldPublic(
        id=row.id,
        device_id=row.device_id,
        start=row.range_start,
        end=row.range_end,
        reason=row.reason,
        created_at=row.created_at,
        active=row.released_at is None,
        released_at=row.released_at,
        release_reason=row.release_reason,
    )


def _defaults(services: Services) -> RetentionDays:
    return services.recordings.settings.retention.days


@router.get(
    "/sites/{site}/retention", summary="Read a site's retention", responses=problems(404, 422)
)
async def read_site(
    site: SiteName, principal: Officer, services: ServicesDep
) -> SiteRetentionPublic:
    """The days each class of recording is kept on a site in your scope."""
    authorize(principal, ACTION, Resource(kind="site", site=site), hide=True)
    async with services.db.sessions() as session:
        row = await session.get(SiteRetention, site)
    return _site_public(site, _defaults(services), row)


@router.put(
    "/sites/{site}/retention", summary="Set a site's retention", responses=problems(BODY, 404)
)
async def set_site(
    site: SiteName,
    body: SiteRetentionUpdate,
    principal: Officer,
    services: ServicesDep,
    address: AddressDep,
) -> SiteRetentionPublic:
    """Set the site's own days per class (null: the default); audited, used at the next run."""
    authorize(principal, ACTION, Resource(kind="site", site=site), hide=True)
    async with services.db.transaction() as session:
        row = await rules.set_site_days(
            session,
            services.audit,
            site,
            body.model_dump(),
            by=principal,
            address=address,
            now=services.clock.now(),
        )
    return _site_public(site, _defaults(services), row)


@router.post(
    "/devices/{device_id}/holds",
    status_code=201,
    summary="Place a legal hold",
    responses=problems(BODY, 404, 409),
)
async def place(
    device_id: str,
    body: HoldRequest,
    principal: Officer,
    services: ServicesDep,
    address: AddressDep,
) -> HoldPublic:
    """Keep the device's recordings (or a range of them) from retention and quota eviction."""
    device = await visible_device(services, principal, device_id, ACTION)
    async with services.db.transaction() as session:
        hold = await rules.place_hold(
            session,
            services.audit,
            device_id=device.id,
            site=device.site,
            start=body.start,
            end=body.end,
            reason=body.reason,
            by=principal,
            address=address,
            now=services.clock.now(),
        )
    return _hold_public(hold)


@router.get(
    "/devices/{device_id}/holds",
    summary="List a device's legal holds",
    responses=PAGED | problems(404, 422),
)
async def list_holds(
    device_id: str,
    principal: Officer,
    services: ServicesDep,
    page: PageDep,
    active: Annotated[bool, Query(description="only holds still in force")] = False,
) -> list[HoldPublic]:
    """The device's holds, newest first (released ones too, unless ``active``)."""
    device = await visible_device(services, principal, device_id, ACTION)
    async with services.db.sessions() as session:
        found = await rules.holds_of(session, [device.id], active_only=active)
    return HOLDS.paginate([_hold_public(h) for h in found], page)


@router.post(
    "/devices/{device_id}/holds/{hold_id}/release",
    summary="Release a legal hold",
    responses=problems(BODY, 404, 409),
)
async def release(
    device_id: str,
    hold_id: HoldId,
    body: ReleaseRequest,
    *,
    principal: Officer,
    services: ServicesDep,
    address: AddressDep,
) -> HoldPublic:
    """End a hold, with a reason; retention may remove its segments from the next run."""
    device = await visible_device(services, principal, device_id, ACTION)
    async with services.db.transaction() as session:
        hold = await rules.find_hold(session, hold_id)
        if hold.device_id != device.id:
            raise NotFound("no such hold")
        hold = await rules.release_hold(
            session,
            services.audit,
            hold,
            reason=body.reason,
            by=principal,
            address=address,
            now=services.clock.now(),
        )
    return _hold_public(hold)
