"""Removing segments lawfully: keys, then files, then rows, with the cut in the audit chain.

Deleting segments of a recording breaks its hash chain where the next remaining
segment links to a deleted one. ``remove_run`` records the cut first: one
``recording.trimmed`` audit entry (in the same transaction that deletes the rows)
names the positions removed and the link the next remaining segment starts from,
so ``verify`` accepts a chain that resumes at a recorded cut and still reports any
row removed without one.

The order makes every step safe to repeat after a crash (kill -9 included):
1. the wrapped keys are deleted (crypto-shredding: the bytes are unreadable from here on);
2. the files are deleted from the store (a file already gone is fine);
3. the cut is audited and the rows deleted, in one transaction.
A crash after 1 or 2 leaves rows whose keys are gone; the next run picks them up
again and finishes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.recordings.index import shred
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.store import SegmentStore
from lensguard.store.db import Database

TRIM_ACTION = "recording.trimmed"
STEPS = ("keys", "files", "rows")


@dataclass(frozen=True)
class Cut:
    """Positions ``first`` to ``last`` of a recording removed lawfully (from the audit chain)."""

    first: int
    last: int
    next_seq: int | None
    """The segment the chain resumes at (None when the tail was removed)."""
    next_prev: str | None
    """The link that segment starts from."""


@dataclass(frozen=True)
class Run:
    """Consecutive segments of one recording to remove, and the segment after them."""

    recording_id: str
    device_id: str
    rows: tuple[RecordingSegment, ...]
    next_row: RecordingSegment | None

    @property
    def ids(self) -> list[str]:
        return [row.id for row in self.rows]

    @property
    def size(self) -> int:
        return sum(row.size for row in self.rows)


Crash = Callable[[str], None]
"""Called after each step with its name (tests raise from it to stop a run midway)."""

Removed = Callable[[AsyncSession, Run], Awaitable[None]]
"""Called in the transaction that records the cut and deletes the rows (a caller's own
bookkeeping, e.g. an erasure's counts, then commits with them or not at all)."""


async def cuts_of(session: AsyncSession, recording_id: str) -> list[Cut]:
    """Every recorded cut of a recording, oldest first."""
    result = await session.execute(
        select(AuditEntry.details)
        .where(
            AuditEntry.action == TRIM_ACTION,
            AuditEntry.resource_type == "recording",
            AuditEntry.resource_id == recording_id,
        )
        .order_by(AuditEntry.seq)
    )
    found = []
    for raw in result.scalars():
        details = json.loads(raw)
        nxt = details.get("next_seq")
        found.append(
            Cut(
                int(details["first_seq"]),
                int(details["last_seq"]),
                None if nxt is None else int(nxt),
                details.get("next_prev"),
            )
        )
    return found


def covered(cuts: Sequence[Cut], first: int, last: int) -> bool:
    """True when every position from ``first`` to ``last`` lies in some cut."""
    position = first
    for cut in sorted(cuts, key=lambda c: c.first):
        if cut.first <= position <= cut.last:
            position = cut.last + 1
        if position > last:
            return True
    return position > last


def count_covered(cuts: Sequence[Cut], last: int) -> int:
    """How many positions from 0 to ``last`` lie in some cut."""
    total, reach = 0, -1
    for cut in sorted(cuts, key=lambda c: c.first):
        first, end = max(cut.first, reach + 1), min(cut.last, last)
        if end >= first:
            total += end - first + 1
        reach = max(reach, cut.last)
    return total


async def runs_of(session: AsyncSession, chosen: Sequence[RecordingSegment]) -> list[Run]:
    """Split segments of one recording into runs with no kept segment between them."""
    if not chosen:
        return []
    recording_id = chosen[0].recording_id
    wanted = {row.id for row in chosen}
    low = min(row.seq for row in chosen)
    high = max(row.seq for row in chosen)
    result = await session.execute(
        select(RecordingSegment)
        .where(RecordingSegment.recording_id == recording_id, RecordingSegment.seq >= low)
        .where(RecordingSegment.seq <= high)
        .order_by(RecordingSegment.seq)
    )
    current = list(result.scalars().all())
    after = await session.execute(
        select(RecordingSegment)
        .where(RecordingSegment.recording_id == recording_id, RecordingSegment.seq > high)
        .order_by(RecordingSegment.seq)
        .limit(1)
    )
    tail = after.scalar_one_or_none()
    runs: list[Run] = []
    pending: list[RecordingSegment] = []
    for row in [*current, None] if tail is None else [*current, tail]:
        if row is not None and row.id in wanted:
            pending.append(row)
            continue
        if pending:
            runs.append(Run(recording_id, pending[0].device_id, tuple(pending), row))
            pending = []
    return runs


async def remove_run(
    db: Database,
    store: SegmentStore,
    audit: AuditLog,
    run: Run,
    *,
    reason: str,
    crash: Crash | None = None,
    details: Mapping[str, Any] | None = None,
    on_removed: Removed | None = None,
) -> None:
    """Remove one run: keys, then files, then the cut and the rows (see the module doc).

    ``details`` are added to the cut's audit entry (e.g. the erasure request behind it);
    ``on_removed`` runs in the cut's transaction, only when the rows were still there.
    """
    async with db.transaction() as session:
        await shred(session, run.ids)
    if crash is not None:
        crash("keys")
    for segment_id in run.ids:
        await store.delete(segment_id)
    if crash is not None:
        crash("files")
    async with db.transaction() as session:
        # Re-read what is left: a run that crashed after its rows went must not be cut twice.
        present = await session.execute(
            select(RecordingSegment.id).where(RecordingSegment.id.in_(run.ids))
        )
        if not present.scalars().all():
            return
        nxt = run.next_row
        await audit.append(
            session,
            AuditEvent(
                action=TRIM_ACTION,
                outcome="success",
                actor_type="system",
                resource_type="recording",
                resource_id=run.recording_id,
                details={
                    "device_id": run.device_id,
                    "reason": reason,
                    "first_seq": run.rows[0].seq,
                    "last_seq": run.rows[-1].seq,
                    "segments": len(run.rows),
                    "bytes": run.size,
                    "next_seq": None if nxt is None else nxt.seq,
                    "next_prev": None if nxt is None else nxt.prev_digest,
                }
                | dict(details or {}),
            ),
        )
        await session.execute(
            delete(RecordingSegment)
            .where(RecordingSegment.id.in_(run.ids))
            .execution_options(synchronize_session=False)
        )
        if on_removed is not None:
            await on_removed(session, run)
    if crash is not None:
        crash("rows")
