"""Playback sessions on the app clock: opened audited, checked again on every fetch.

A session lasts ``PLAYBACK_TTL`` (never past the grant it rests on). Each seek and
each segment fetch checks it is still good: not expired, its grant neither expired
nor revoked, the viewer's own scope still covering the device when no grant is
behind it, and for raw recordings the break-glass grant still open. The first
refusal ends the session for good and is audited (``recording.playback_ended``);
from then on it answers 404, so an expired grant stops playback mid-stream.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lensguard.access.can import can
from lensguard.access.principal import Principal
from lensguard.api.recordings_scope import VIEW, break_glass, device_resource, widened
from lensguard.errors import NotFound
from lensguard.identity.auditing import audit_event
from lensguard.recordings import grants
from lensguard.recordings.access_models import RecordingPlayback
from lensguard.recordings.timeline import Span
from lensguard.services import Services
from lensguard.store import devices as device_repo

PLAYBACK_TTL = timedelta(hours=1)
"""How long one playback session lasts; the console opens a new one after."""
ENDED_ACTION = "recording.playback_ended"
_REASONS = {
    "expired": "this playback has ended (it lasts an hour); open a new one",
    "grant_expired": "this playback has ended: the grant it rests on expired",
    "grant_revoked": "this playback has ended: the grant it rests on was revoked",
    "access_withdrawn": "this playback has ended: you no longer have access to this device",
    "break_glass_ended": "this playback has ended: its break-glass grant is no longer open",
}


def expiry(now: datetime, grant_expires: datetime | None) -> datetime:
    """When a session opened ``now`` ends (never after its grant)."""
    ends = now + PLAYBACK_TTL
    return ends if grant_expires is None else min(ends, grant_expires)


def span_of(row: RecordingPlayback) -> Span:
    return Span(row.starts_at, row.ends_at)


async def _why_ended(
    services: Services, principal: Principal, row: RecordingPlayback, now: datetime
) -> str | None:
    async with services.db.sessions() as session:
        device = await device_repo.get_device(session, device_id=row.device_id)
        grant = None if row.grant_id is None else await grants.get(session, row.grant_id)
    if device is None:
        return "access_withdrawn"
    if row.grant_id is not None:
        if grant is None or grant.revoked_at is not None or not grants.holds(grant, principal):
            return "grant_revoked"
        if grant.expires_at <= now:
            return "grant_expired"
        if not can(widened(principal, device), VIEW, device_resource(device)):
            return "access_withdrawn"
    elif not can(principal, VIEW, device_resource(device)):
        return "access_withdrawn"
    if row.stream == "raw" and await break_glass(services, principal, row.device_id) is None:
        return "break_glass_ended"
    if now >= row.expires_at:
        return "expired"
    return None


async def live_playback(
    services: Services, principal: Principal, playback_id: str, address: str | None
) -> RecordingPlayback:
    """The caller's playback when it may still be used; 404 (audited once when it ends)."""
    async with services.db.sessions() as session:
        row = await session.get(RecordingPlayback, playback_id)
    if row is None or row.viewer_id != principal.id:
        raise NotFound("no such playback")
    if row.ended_at is not None:
        raise NotFound("this playback has ended; open a new one")
    now = services.clock.now()
    reason = await _why_ended(services, principal, row, now)
    if reason is None:
        return row
    async with services.db.transaction() as session:
        fresh = await session.get(RecordingPlayback, playback_id, with_for_update=True)
        if fresh is not None and fresh.ended_at is None:
            fresh.ended_at = now
            event = audit_event(
                ENDED_ACTION,
                "denied",
                by=principal,
                address=address,
                resource_type="device",
                resource_id=row.device_id,
                playback_id=row.id,
                grant_id=row.grant_id,
                reason=reason,
            )
            await services.audit.append(session, event)
    raise NotFound(_REASONS[reason])
