"""Device repository: keyword-only functions over an open session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import Conflict
from lensguard.store.models import ApiKey, Device


async def create_device(
    session: AsyncSession, *, name: str, site: str, kind: str, capabilities: Sequence[str]
) -> Device:
    """Insert a device; raises ``Conflict`` when the name is taken."""
    device = Device(name=name, site=site, kind=kind, capabilities=sorted(set(capabilities)))
    try:
        async with session.begin_nested():
            session.add(device)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("a device with this name already exists") from exc
    return device


async def get_device(session: AsyncSession, *, device_id: str) -> Device | None:
    """The device with ``device_id``, or None."""
    return await session.get(Device, device_id)


async def list_devices(session: AsyncSession, *, site: str | None = None) -> Sequence[Device]:
    """Devices (of one site when given), by site then name."""
    query = select(Device).order_by(Device.site, Device.name)
    if site is not None:
        query = query.where(Device.site == site)
    return (await session.execute(query)).scalars().all()


async def revoke_device_keys(session: AsyncSession, *, device_id: str, at: datetime) -> int:
    """Revoke every live credential of a device; how many were revoked."""
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.owner_device_id == device_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def mark_seen(session: AsyncSession, *, device_id: str, at: datetime) -> None:
    """Record that the device was heard from at ``at``."""
    await session.execute(update(Device).where(Device.id == device_id).values(last_seen_at=at))
