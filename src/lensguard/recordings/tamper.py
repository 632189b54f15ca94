"""Report a segment that failed verification: a HIGH security event and an audit row."""

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
    device_id: str,
    fields: dict[str, object],
    resource: tuple[str, str],
    by: Principal,
    address: str | None,
) -> None:
    """The HIGH event and the audit row for recordings of ``device_id`` that did not verify."""
    vault.events.publish(
        SecurityEvent(
            TAMPERED_EVENT,
            Severity.HIGH,
            principal=by.id,
            resource=device_id,
            outcome="failure",
            address=address,
            fields=fields,
            time=vault.events.now(),
        )
    )
    event = audit_event(
        TAMPERED_EVENT,
        "failure",
        by=by,
        address=address,
        resource_type=resource[0],
        resource_id=resource[1],
        device_id=device_id,
        **fields,
    )
    async with vault.db.transaction() as session:
        await vault.audit.append(session, event)
