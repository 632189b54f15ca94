"""The chain of custody of a device's range: the audit entries about it, as stored.

An entry is about the range when it is an anchor (or any entry) of one of the
recordings the range draws on, an entry about one of its segments (a failed
verification), or a ``recording.*`` entry about the device (views, seeks, downloads,
exports, grants) whose times overlap the range (or that names no times). Each entry
is given with its sequence number, time, actor, action, details and both audit chain
hashes, so it can be matched against ``lensguard audit verify`` on the server. The
keyed personal columns (actor name, address) stay on the server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit.models import AuditEntry

MAX_ENTRIES = 10_000
"""The most entries one custody record holds (the oldest first; later ones are counted)."""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _overlaps(details: dict[str, Any], start: datetime, end: datetime) -> bool:
    begin, finish, at = (
        _time(details.get("start")),
        _time(details.get("end")),
        _time(details.get("at")),
    )
    if begin is not None and finish is not None:
        return begin < end and finish > start
    if at is not None:
        return start <= at < end
    return True


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """One audit entry as a custody record gives it (personal values stay sealed)."""
    record = {
        "seq": entry.seq,
        "ts": entry.ts.isoformat(),
        "actor_type": entry.actor_type,
        "actor_id": entry.actor_id,
        "actor_ref": entry.actor_ref,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "outcome": entry.outcome,
        "details": json.loads(entry.details),
        "details_text": entry.details,
        "personal_digest": entry.personal_digest,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }
    if entry.details_digest is not None:
        record["details_digest"] = entry.details_digest
    return record


async def custody_entries(
    session: AsyncSession,
    *,
    device_id: str,
    recording_ids: Sequence[str],
    segment_ids: Sequence[str],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """The custody record of a range: its entries in audit order and how many were left out."""
    about = [
        and_(AuditEntry.resource_type == "recording", AuditEntry.resource_id.in_(recording_ids)),
        and_(
            AuditEntry.resource_type == "recording_segment",
            AuditEntry.resource_id.in_(segment_ids),
        ),
        and_(
            AuditEntry.resource_type == "device",
            AuditEntry.resource_id == device_id,
            AuditEntry.action.like("recording.%"),
        ),
    ]
    result = await session.execute(select(AuditEntry).where(or_(*about)).order_by(AuditEntry.seq))
    entries: list[dict[str, Any]] = []
    left_out = 0
    for entry in result.scalars():
        if entry.resource_type == "device" and not _overlaps(json.loads(entry.details), start, end):
            continue
        if len(entries) >= MAX_ENTRIES:
            left_out += 1
            continue
        entries.append(entry_json(entry))
    return {"device_id": device_id, "entries": entries, "left_out": left_out}
