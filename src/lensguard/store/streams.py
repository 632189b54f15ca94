"""Stream rules as relays apply them: a site's policy combined with its device's settings.

A site's policy is a floor: when it redacts faces, no device of the site can turn
redaction off, and its processors run before the device's own. Break-glass grants
(``RedactionOverride``) are looked up here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.sizing import parse_resolution
from lensguard.store.models import Device, RedactionOverride, SitePolicy, StreamSettings
from lensguard.store.types import utcnow
from lensguard.wire import server

DEFAULT_BITRATE = 1_500_000


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """What the relay does with one device's video."""

    device_id: str
    site: str
    ai_models: tuple[str, ...] = ()
    redact_faces: bool = False
    redaction_from: str | None = None
    """``site`` or ``device``: who asked for redaction (None when off)."""
    bitrate: int = DEFAULT_BITRATE
    resolution: tuple[int, int] | None = None
    """Upper bound for the processed picture (None: the source's own size)."""


def combine(
    device: Device, settings: StreamSettings | None, site: SitePolicy | None
) -> StreamPolicy:
    """The effective policy: the site's rules first, then the device's additions."""
    models: list[str] = list(site.ai_models) if site is not None else []
    if settings is not None:
        models += [m for m in settings.ai_models if m not in models]
    site_redacts = bool(site is not None and site.redact_faces)
    device_redacts = bool(settings is not None and settings.redact_faces)
    source = "site" if site_redacts else "device" if device_redacts else None
    return StreamPolicy(
        device_id=device.id,
        site=device.site,
        ai_models=tuple(models),
        redact_faces=source is not None,
        redaction_from=source,
        bitrate=settings.bitrate if settings is not None else DEFAULT_BITRATE,
        resolution=(
            parse_resolution(settings.resolution)
            if settings is not None and settings.resolution
            else None
        ),
    )


def device_settings(row: StreamSettings) -> dict[str, Any]:
    """The ``settings`` message a publishing device applies itself (resolution, bitrate)."""
    return server.settings(row.bitrate, row.resolution)


async def stream_policy(session: AsyncSession, device_id: str) -> StreamPolicy | None:
    """The effective policy of ``device_id``, or None when there is no such device."""
    device = await session.get(Device, device_id)
    if device is None:
        return None
    settings = await session.get(StreamSettings, device_id)
    site = await session.get(SitePolicy, device.site)
    return combine(device, settings, site)


async def site_device_ids(session: AsyncSession, site: str) -> Sequence[str]:
    """The ids of every device of ``site``."""
    return (await session.execute(select(Device.id).where(Device.site == site))).scalars().all()


async def active_override(
    session: AsyncSession, *, user_id: str, device_id: str, now: datetime | None = None
) -> RedactionOverride | None:
    """The user's break-glass grant for the device that is still open, latest expiry first."""
    at = now or utcnow()
    query = (
        select(RedactionOverride)
        .where(
            RedactionOverride.user_id == user_id,
            RedactionOverride.device_id == device_id,
            RedactionOverride.ended_at.is_(None),
            RedactionOverride.expires_at > at,
        )
        .order_by(RedactionOverride.expires_at.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()
