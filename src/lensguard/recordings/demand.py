"""On-demand recordings: a person starts one, a person stops it, both audited.

The request is a row (``RecordingDemand``) written with its audit entry in one
transaction, then announced on the stream-config channel like any policy change:
whichever node holds the device's signaling connection records it
(``manager.py``). Which node took the request does not matter, and a node that
restarts picks the demand up again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal
from lensguard.audit.log import AuditLog
from lensguard.bus.base import Bus
from lensguard.bus.channels import STREAM_CONFIG
from lensguard.identity.auditing import audit_event
from lensguard.logs import get_logger
from lensguard.recordings.models import RecordingDemand
from lensguard.store.db import Database

log = get_logger("lensguard.recordings")
STARTED = "recording.started"
STOPPED = "recording.stopped"


async def demand_of(session: AsyncSession, device_id: str) -> RecordingDemand | None:
    """The device's running on-demand request, if any."""
    return await session.get(RecordingDemand, device_id)


async def start_demand(
    db: Database,
    audit: AuditLog,
    bus: Bus,
    device_id: str,
    *,
    by: Principal,
    address: str | None,
    now: datetime,
) -> RecordingDemand:
    """Record ``device_id`` until stopped; an already running demand is kept (not re-audited)."""
    async with db.transaction() as session:
        row = await session.get(RecordingDemand, device_id)
        if row is not None:
            return row
        row = RecordingDemand(device_id=device_id, user_id=by.id, since=now)
        session.add(row)
        await session.flush()
        event = audit_event(
            STARTED, by=by, address=address, resource_type="device", resource_id=device_id
        )
        await audit.append(session, event)
    await _announce(bus, device_id)
    return row


async def stop_demand(
    db: Database,
    audit: AuditLog,
    bus: Bus,
    device_id: str,
    *,
    by: Principal,
    address: str | None,
    now: datetime,
) -> bool:
    """End the device's on-demand recording; whether one was running."""
    async with db.transaction() as session:
        row = await session.get(RecordingDemand, device_id)
        if row is None:
            return False
        seconds = max(0, round((now - row.since).total_seconds()))
        await session.delete(row)
        event = audit_event(
            STOPPED,
            by=by,
            address=address,
            resource_type="device",
            resource_id=device_id,
            started_by=row.user_id,
            seconds=seconds,
        )
        await audit.append(session, event)
    await _announce(bus, device_id)
    return True


async def _announce(bus: Bus, device_id: str) -> None:
    # Committed already: a bus outage delays the recorder, it must not fail the request.
    try:
        await bus.publish(STREAM_CONFIG, {"device_id": device_id})
    except Exception as exc:
        log.warning("broadcast_failed", channel=STREAM_CONFIG, error=type(exc).__name__)
