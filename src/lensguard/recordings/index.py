"""The segment index: one row per stored segment, chained per recording, anchored in audit.

Segment ``i`` of a recording stores the SHA-256 of its stored bytes (``digest``) and
the chain link of segment ``i - 1`` (``prev_digest``). A link covers the segment's
place, times, size, key id and digest, so a row removed, swapped or edited breaks
the chain at the next one. The last link (the head) is written to the audit chain
(``anchor``): the audit chain's HMAC then protects the end of the recording too, so
even the last segment cannot be dropped unnoticed once anchored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.recordings.keys import KeyRing, WrappedKey
from lensguard.recordings.models import KINDS, STREAMS, RecordingSegment
from lensguard.recordings.store import check_segment_id

GENESIS = "0" * 64
ANCHOR_ACTION = "recording.anchored"


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("segment times must be timezone-aware")
    return value.isoformat(timespec="microseconds")


def link(row: RecordingSegment) -> str:
    """The chain link of ``row``: SHA-256 over the previous link and the row's fields."""
    fields: tuple[str, ...] = (
        row.prev_digest,
        row.id,
        row.recording_id,
        str(row.seq),
        row.device_id,
        row.stream,
        _iso(row.started_at),
        _iso(row.ended_at),
        str(row.size),
        row.key_id,
        row.digest,
    )
    # The class is linked too (so relabelling a clip changes no retention unnoticed);
    # continuous rows keep the links they had before the class existed.
    if row.kind != "continuous":
        fields = (*fields, row.kind)
    return hashlib.sha256("\n".join(fields).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """What the audit chain last said about a recording: how many segments, which head.

    ``segments`` counts positions up to the head (the head is segment ``segments - 1``),
    segments since removed by retention included.
    """

    segments: int
    head: str
    sealed: bool
    audit_seq: int


async def segments_of(session: AsyncSession, recording_id: str) -> Sequence[RecordingSegment]:
    """A recording's segment rows in order."""
    result = await session.execute(
        select(RecordingSegment)
        .where(RecordingSegment.recording_id == recording_id)
        .order_by(RecordingSegment.seq)
    )
    return result.scalars().all()


async def recording_ids(session: AsyncSession, device_id: str | None = None) -> list[str]:
    """Every recording id in the index (of one device when given), sorted."""
    query = select(RecordingSegment.recording_id).distinct()
    if device_id is not None:
        query = query.where(RecordingSegment.device_id == device_id)
    result = await session.execute(query.order_by(RecordingSegment.recording_id))
    return list(result.scalars().all())


async def _last(session: AsyncSession, recording_id: str) -> RecordingSegment | None:
    result = await session.execute(
        select(RecordingSegment)
        .where(RecordingSegment.recording_id == recording_id)
        .order_by(RecordingSegment.seq.desc())
        .limit(1)
        .with_for_update()
    )
    return result.scalar_one_or_none()


async def add_segment(
    session: AsyncSession,
    *,
    segment_id: str,
    recording_id: str,
    device_id: str,
    stream: str,
    started_at: datetime,
    ended_at: datetime,
    stored: bytes,
    wrapped: WrappedKey,
    kind: str = "continuous",
) -> RecordingSegment:
    """Index a segment already put in the store, as the next one of its recording."""
    check_segment_id(segment_id)
    check_segment_id(recording_id)
    if stream not in STREAMS:
        raise ValueError("stream is 'processed' or 'raw'")
    if kind not in KINDS:
        raise ValueError("kind is 'continuous' or 'event'")
    if ended_at < started_at:
        raise ValueError("a segment cannot end before it starts")
    last = await _last(session, recording_id)
    if last is not None and (last.device_id, last.stream) != (device_id, stream):
        raise ValueError("a recording holds one device's one stream")
    if last is not None and last.kind != kind:
        raise ValueError("a recording has one kind")
    row = RecordingSegment(
        id=segment_id,
        recording_id=recording_id,
        seq=0 if last is None else last.seq + 1,
        device_id=device_id,
        stream=stream,
        kind=kind,
        started_at=started_at,
        ended_at=ended_at,
        size=len(stored),
        key_id=wrapped.key_id,
        kek_version=wrapped.kek_version,
        wrapped_key=wrapped.wrapped,
        digest=hashlib.sha256(stored).hexdigest(),
        prev_digest=GENESIS if last is None else link(last),
    )
    session.add(row)
    await session.flush()
    return row


def wrapped_key(row: RecordingSegment) -> WrappedKey | None:
    """The row's wrapped data key, or None once shredded."""
    if row.wrapped_key is None:
        return None
    return WrappedKey(row.key_id, row.kek_version, row.wrapped_key)


async def anchor(
    session: AsyncSession,
    audit: AuditLog,
    recording_id: str,
    *,
    sealed: bool = False,
    reason: str | None = None,
) -> Anchor:
    """Write the recording's head to the audit chain (``sealed`` when it has ended).

    ``reason`` says why a recording was sealed other than by its recorder
    (``interrupted``: its node died while it ran, see ``recovery.py``).
    """
    rows = await segments_of(session, recording_id)
    if not rows:
        raise LookupError("no such recording")
    head = link(rows[-1])
    # Positions up to the head: the row count until retention trims the oldest segments.
    positions = rows[-1].seq + 1
    seq = await audit.append(
        session,
        AuditEvent(
            action=ANCHOR_ACTION,
            outcome="success",
            actor_type="system",
            resource_type="recording",
            resource_id=recording_id,
            details={
                "device_id": rows[-1].device_id,
                "segments": positions,
                "head": head,
                "sealed": sealed,
            }
            | ({"reason": reason} if reason is not None else {}),
        ),
    )
    return Anchor(positions, head, sealed, seq)


async def latest_anchor(session: AsyncSession, recording_id: str) -> Anchor | None:
    """The last anchor the audit chain holds for a recording."""
    result = await session.execute(
        select(AuditEntry.seq, AuditEntry.details)
        .where(
            AuditEntry.action == ANCHOR_ACTION,
            AuditEntry.resource_type == "recording",
            AuditEntry.resource_id == recording_id,
        )
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )
    row = result.one_or_none()
    if row is None:
        return None
    details = json.loads(row.details)
    return Anchor(int(details["segments"]), str(details["head"]), bool(details["sealed"]), row.seq)


async def shred(session: AsyncSession, segment_ids: Sequence[str]) -> int:
    """Delete the wrapped data keys of segments (crypto-shredding); how many were live."""
    if not segment_ids:
        return 0
    result = await session.execute(
        update(RecordingSegment)
        .where(RecordingSegment.id.in_(segment_ids), RecordingSegment.wrapped_key.is_not(None))
        .values(wrapped_key=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def rewrap_all(session: AsyncSession, ring: KeyRing, *, batch: int = 500) -> int:
    """Move every live data key to the ring's current KEK; how many moved. Video untouched."""
    moved = 0
    while True:
        result = await session.execute(
            select(RecordingSegment)
            .where(
                RecordingSegment.kek_version != ring.current,
                RecordingSegment.wrapped_key.is_not(None),
            )
            .limit(batch)
        )
        rows = result.scalars().all()
        if not rows:
            return moved
        for row in rows:
            current = wrapped_key(row)
            if current is None:
                continue
            fresh = ring.rewrap(current)
            row.kek_version, row.wrapped_key = fresh.kek_version, fresh.wrapped
            moved += 1
        await session.flush()


async def segment_count(session: AsyncSession) -> int:
    """How many segments the index holds."""
    return int((await session.execute(select(func.count(RecordingSegment.id)))).scalar_one())
