"""Report stored data that failed verification: a HIGH security event and an audit row."""

from __future__ import annotations

from lensguard.access.principal import Principal
from lensguard.identity.auditing import audit_event
from lensguard.monitor.event import SecurityEvent
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.vault import RecordingVault
from lensguard.severity import Severity

TAMPERED_EVENT = "recording.tampered"


async def report_tampered(
    vault: RecordingVault, row: RecordingSegment, *, by: Principal, address: str | None
) -> None:
    """Record that ``row`` did not verify when ``by`` asked for it (nothing was served)."""
    await report(
        vault,
        device_id=row.device_id,
        fields={"segment_id": row.id, "recording_id": row.recording_id, "seq": row.seq},
        resource=("recording_segment", row.id),
        by=by,
        address=address,
    )


async def report(
    vault: RecordingVault,
    *,
    device_id: str | None,
    fields: dict[str, object],
    resource: tuple[str, str],
    by: Principal,
    address: str | None,
    event_type: str = TAMPERED_EVENT,
) -> None:
    """The HIGH event and the audit row for stored data that did not verify: recordings
    of ``device_id``, or (``device_id`` None) what ``resource`` names, as ``event_type``."""
    vault.events.publish(
        SecurityEvent(
            event_type,
            Severity.HIGH,
            principal=by.id,
            resource=device_id or resource[1],
            outcome="failure",
            address=address,
            fields=fields,
            time=vault.events.now(),
        )
    )
    device = {} if device_id is None else {"device_id": device_id}
    event = audit_event(
        event_type,
        "failure",
        by=by,
        address=address,
        resource_type=resource[0],
        resource_id=resource[1],
        **device,
        **fields,
    )
    async with vault.db.transaction() as session:
        await vault.audit.append(session, event)
