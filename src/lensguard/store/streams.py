"""Stream rules as relays apply them: a site's policy combined with its device's settings.

A site's policy is a floor: when it redacts faces, no device of the site can turn
redaction off, and its processors run before the device's own. Recording works the
same way (``recording_policy``): the modes are ranked off < on_demand < on_event <
continuous and the device's mode counts only where it records more than the site's.
Break-glass grants (``RedactionOverride``) are looked up here too.
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
RECORDING_MODES = ("off", "on_demand", "on_event", "continuous")
"""Recording modes from least to most recorded: the effective mode is the higher one."""
DEFAULT_PRE_ROLL = 5
DEFAULT_POST_ROLL = 10


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    """What the node holding a device records of it."""

    mode: str = "off"
    mode_from: str | None = None
    """``site`` or ``device``: whose mode this is (None when off)."""
    pre_roll_seconds: int = DEFAULT_PRE_ROLL
    post_roll_seconds: int = DEFAULT_POST_ROLL
    segment_seconds: float | None = None
    """None: the ``recordings.segment_seconds`` setting."""
    record_raw: bool = False
    """Also record the unredacted feed (a site's choice alone)."""


def _rank(mode: str) -> int:
    return RECORDING_MODES.index(mode) if mode in RECORDING_MODES else 0


def recording_policy(settings: StreamSettings | None, site: SitePolicy | None) -> RecordingPolicy:
    """The recording a device gets: the site's as a floor, the device's where it is more.

    The mode is the higher ranked of the two (a site that records continuously cannot
    be lowered by a device; a device may record where its site does not). Pre- and
    post-roll are the longer of the two (a longer clip records more), and a device's
    own segment length wins over the site's. ``record_raw`` is the site's alone.
    """
    site_mode = site.recording_mode if site is not None else "off"
    own_mode = settings.recording_mode if settings is not None else "off"
    mode, source = site_mode, "site"
    if _rank(own_mode) > _rank(site_mode):
        mode, source = own_mode, "device"
    rolls = [r for r in (site, settings) if r is not None]
    pre = [r.pre_roll_seconds for r in rolls if r.pre_roll_seconds is not None]
    post = [r.post_roll_seconds for r in rolls if r.post_roll_seconds is not None]
    segment = next(
        (r.segment_seconds for r in (settings, site) if r is not None and r.segment_seconds),
        None,
    )
    return RecordingPolicy(
        mode=mode if mode in RECORDING_MODES else "off",
        mode_from=None if mode == "off" else source,
        pre_roll_seconds=max(pre) if pre else DEFAULT_PRE_ROLL,
        post_roll_seconds=max(post) if post else DEFAULT_POST_ROLL,
        segment_seconds=segment,
        record_raw=bool(site is not None and site.record_raw),
    )


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
    recording: RecordingPolicy = RecordingPolicy()


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
        recording=recording_policy(settings, site),
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
