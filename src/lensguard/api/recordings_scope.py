"""Who may see which recordings: the one check every ``/api/v1/recordings`` route makes.

A caller sees a device's recordings when ``can()`` allows ``recording_view`` on the
device (role and site/device scope, as for live view), or when an active recording
grant names the caller (a signed-in user, by id or role) for that device: the grant
widens the caller's scope to that one device, and its range bounds what is shown.
``can()`` still decides, on the widened scope, so the role must grant
``recording_view`` either way. Raw-stream recordings also need the caller's open
break-glass grant on the device. Anything else answers 404 as if nothing existed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from lensguard.access.can import can
from lensguard.access.principal import Principal, PrincipalKind, Resource
from lensguard.api.deps import authorize
from lensguard.errors import NotFound, ValidationFailed
from lensguard.recordings import grants
from lensguard.recordings.access_models import RecordingGrant
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.timeline import Listed, Span
from lensguard.services import Services
from lensguard.store import devices as device_repo
from lensguard.store.models import Device

VIEW = "recording_view"
EXPORT = "recording_export"
MAX_WINDOW = timedelta(hours=24)
"""The longest time range one timeline, list or playback request may span."""
Stream = Literal["processed", "raw"]
NO_RAW = "raw recordings need your open break-glass grant on this device"


class SegmentPublic(BaseModel):
    """One stored segment: a whole WebM file of 2 to 10 s that starts on a keyframe."""

    id: str
    recording_id: str
    device_id: str
    stream: str
    seq: int = Field(description="position in its recording, from 0")
    start: datetime
    end: datetime
    bytes: int = Field(description="stored (encrypted) size")
    after_gap: bool = Field(description="true when a gap in the recording comes right before it")


def segment_public(row: RecordingSegment, after_gap: bool) -> SegmentPublic:
    return SegmentPublic(
        id=row.id,
        recording_id=row.recording_id,
        device_id=row.device_id,
        stream=row.stream,
        seq=row.seq,
        start=row.started_at,
        end=row.ended_at,
        bytes=row.size,
        after_gap=after_gap,
    )


def listed_public(found: list[Listed]) -> list[SegmentPublic]:
    return [segment_public(item.row, item.after_gap) for item in found]


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message, "type": "value"}])


def utc(value: datetime, field: str) -> datetime:
    """``value`` when it names its time zone; 422 otherwise."""
    if value.tzinfo is None:
        raise _invalid(field, "times need a time zone (e.g. 2026-12-04T12:00:00Z)")
    return value


def window(start: datetime, end: datetime, *, longest: timedelta = MAX_WINDOW) -> Span:
    """The half-open range ``[start, end)``; 422 when empty, reversed or too long."""
    start, end = utc(start, "start"), utc(end, "end")
    if end <= start:
        raise _invalid("end", "end must be after start")
    if end - start > longest:
        hours = longest.total_seconds() / 3600
        raise _invalid("end", f"a request spans at most {hours:g} hours")
    return Span(start, end)


@dataclass(frozen=True)
class Allowed:
    """What a caller may see of one device's stream inside a requested window."""

    device: Device
    stream: str
    spans: list[Span]
    """The parts of the window open to the caller (the whole window under scope)."""
    grants: list[RecordingGrant]
    """The grants behind ``spans``; empty when the caller's own scope covers the device."""
    break_glass_id: str | None = None


def device_resource(device: Device) -> Resource:
    return Resource(kind="device", id=device.id, site=device.site)


def widened(principal: Principal, device: Device) -> Principal:
    """``principal`` with its scope stretched to ``device`` (what a grant does)."""
    return replace(
        principal,
        sites=principal.sites | {device.site},
        devices=principal.devices | {device.id},
    )


async def get_device(services: Services, device_id: str) -> Device:
    async with services.db.sessions() as session:
        device = await device_repo.get_device(session, device_id=device_id)
    if device is None:
        raise NotFound("no such device")
    return device


async def break_glass(services: Services, principal: Principal, device_id: str) -> str | None:
    """The id of the caller's open break-glass grant on the device, if any."""
    if principal.kind is not PrincipalKind.USER:
        return None
    found = await services.streams.active_grant(principal.id, device_id)
    return None if found is None else found.id


async def allowed(
    services: Services, principal: Principal, device_id: str, stream: str, span: Span
) -> Allowed:
    """What of ``span`` the caller may see; 404 when nothing (absent, foreign, no grant)."""
    device = await get_device(services, device_id)
    resource = device_resource(device)
    if can(principal, VIEW, resource):
        found = Allowed(device, stream, [span], [])
    else:
        async with services.db.sessions() as session:
            held = await grants.grants_for(
                session, principal, device.id, services.clock.now(), start=span.start, end=span.end
            )
        if not held or not can(widened(principal, device), VIEW, resource):
            authorize(principal, VIEW, resource, hide=True)  # records the refusal; 404
        spans = [Span(max(span.start, g.starts_at), min(span.end, g.ends_at)) for g in held]
        found = Allowed(device, stream, spans, held)
    if stream == "raw":
        grant_id = await break_glass(services, principal, device.id)
        if grant_id is None:
            raise NotFound(NO_RAW)
        found = replace(found, break_glass_id=grant_id)
    return found
