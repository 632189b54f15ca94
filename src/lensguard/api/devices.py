"""``/api/v1/devices``: the robots and cameras in the caller's scope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Response

from lensguard.access.can import can
from lensguard.access.principal import Principal, Resource
from lensguard.api.deps import AddressDep, ServicesDep, authorize, requires
from lensguard.api.pages import PAGED, Listing, PageDep
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.schemas import (
    DeviceCreate,
    DeviceCredential,
    DevicePublic,
    DeviceToken,
    DeviceUpdate,
)
from lensguard.errors import NotFound
from lensguard.identity import devices as service
from lensguard.identity.auditing import append, audit_event
from lensguard.identity.context import IdentityContext
from lensguard.monitor.events import emit
from lensguard.services import Services
from lensguard.settings import Severity
from lensguard.store import devices as repo
from lensguard.store.models import Device

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], responses=problems(AUTHENTICATED))
token_router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=problems(AUTHENTICATED))
Viewer = Annotated[Principal, requires("camera_view")]
Manager = Annotated[Principal, requires("device_manage")]
Publisher = Annotated[Principal, requires("stream_publish")]
LISTING: Listing[Device] = Listing(
    "devices", key=lambda d: (d.site, d.name, d.id), parts=(str, str, str)
)


def resource(device: Device) -> Resource:
    return Resource(kind="device", id=device.id, site=device.site)


async def public(services: Services, devices: Sequence[Device]) -> list[DevicePublic]:
    """The response form of ``devices``, each with its live presence (read from every node)."""
    online = await services.hub.presence.online(d.id for d in devices)
    fields = [name for name in DevicePublic.model_fields if name != "online"]
    return [
        DevicePublic.model_validate(
            {name: getattr(d, name) for name in fields} | {"online": d.id in online}
        )
        for d in devices
    ]


async def visible_device(
    identity: IdentityContext, principal: Principal, device_id: str, action: str
) -> Device:
    """The device when ``action`` on it is allowed; 404 when absent or out of scope."""
    async with identity.db.sessions() as session:
        device = await repo.get_device(session, device_id=device_id)
    if device is None:
        raise NotFound("no such device")
    authorize(principal, action, resource(device), hide=True)
    return device


@router.get("", summary="List devices", responses=PAGED | problems(422))
async def list_devices(
    principal: Viewer,
    services: ServicesDep,
    page: PageDep,
) -> list[DevicePublic]:
    """Devices you may watch, by site and name, each online or not; other sites' are not listed."""
    async with services.db.sessions() as session:
        found = await repo.list_devices(session)
    shown = [d for d in found if can(principal, "camera_view", resource(d))]
    return await public(services, LISTING.paginate(shown, page))


@router.post("", status_code=201, summary="Register a device", responses=problems(BODY, 409))
async def register(
    body: DeviceCreate, principal: Manager, services: ServicesDep, address: AddressDep
) -> DeviceCredential:
    """Register a device in a site of yours (needs every device of it); credential shown once."""
    authorize(principal, "device_manage", Resource(kind="device", site=body.site))
    registered = await service.register_device(
        services,
        name=body.name,
        site=body.site,
        kind=body.kind,
        capabilities=list(body.capabilities),
        by=principal,
        address=address,
    )
    (device,) = await public(services, [registered.device])
    return DeviceCredential(device=device, credential=registered.credential)


@router.get("/{device_id}", summary="Read a device", responses=problems(404, 422))
async def read(device_id: str, principal: Viewer, services: ServicesDep) -> DevicePublic:
    """One device in your scope, online or not."""
    device = await visible_device(services, principal, device_id, "camera_view")
    (found,) = await public(services, [device])
    return found


@router.patch("/{device_id}", summary="Change a device", responses=problems(BODY, 404))
async def update(
    device_id: str,
    body: DeviceUpdate,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> DevicePublic:
    """Move a device to another site or change its capabilities."""
    await visible_device(services, principal, device_id, "device_manage")
    if body.site is not None:
        # Where it goes must be in scope too, or a device could be moved out of reach.
        destination = Resource(kind="device", id=device_id, site=body.site)
        authorize(principal, "device_manage", destination)
    async with services.db.transaction() as session:
        device = await repo.get_device(session, device_id=device_id)
        if device is None:
            raise NotFound("no such device")
        if body.site is not None:
            device.site = body.site
        if body.capabilities is not None:
            device.capabilities = sorted(set(body.capabilities))
        event = audit_event(
            "device.update",
            by=principal,
            address=address,
            resource_type="device",
            resource_id=device_id,
            **body.model_dump(exclude_none=True),
        )
        await append(services, session, event)
    emit("device.changed", severity=Severity.MEDIUM, device_id=device_id, actor=principal.id)
    (changed,) = await public(services, [device])
    return changed


@router.delete(
    "/{device_id}", status_code=204, summary="Remove a device", responses=problems(404, 422)
)
async def remove(
    device_id: str, principal: Manager, services: ServicesDep, address: AddressDep
) -> Response:
    """Remove a device; its credentials die with it."""
    await visible_device(services, principal, device_id, "device_manage")
    async with services.db.transaction() as session:
        device = await repo.get_device(session, device_id=device_id)
        if device is not None:
            await session.delete(device)
            event = audit_event(
                "device.remove",
                by=principal,
                address=address,
                resource_type="device",
                resource_id=device_id,
            )
            await append(services, session, event)
    await services.announce(device_id=device_id, reason="device_removed")
    emit("device.removed", severity=Severity.MEDIUM, device_id=device_id, actor=principal.id)
    return Response(status_code=204)


@router.post(
    "/{device_id}/credential", summary="Rotate a device credential", responses=problems(404, 422)
)
async def rotate(
    device_id: str, principal: Manager, services: ServicesDep, address: AddressDep
) -> DeviceCredential:
    """Issue a new credential; the old one (and tokens made from it) stop working now."""
    await visible_device(services, principal, device_id, "device_manage")
    registered = await service.rotate_credential(
        services, device_id=device_id, by=principal, address=address
    )
    (device,) = await public(services, [registered.device])
    return DeviceCredential(device=device, credential=registered.credential)


@token_router.post("/device-token", summary="Device access token")
async def device_token(principal: Publisher, services: ServicesDep) -> DeviceToken:
    """Exchange a device credential (sent as the bearer) for a short-lived access token."""
    issued = await service.device_token(services, principal)
    return DeviceToken(access_token=issued.token, expires_in=services.access_lifetime)
