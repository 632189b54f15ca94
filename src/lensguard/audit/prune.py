"""Pruning the start of the audit log behind a signed retention anchor.

One run, in order:

1. the target: the last entry of the run of entries, from the current anchor on, that
   are all older than ``before``; never the newest entry (the chain always ends on one),
   never past the newest stored checkpoint (every entry that goes was vouched for by a
   signed checkpoint first), never ``keep_from`` or later (what the caller must keep)
   and at most ``limit`` entries past the current anchor (a first run on a large log
   catches up over several runs, each verifying a bounded range under the lease);
2. the entries from the current anchor up to the one after the target are verified:
   when they do not verify nothing new is pruned, so retention never deletes the
   evidence of tampering;
3. the anchor (the target's seq and hash, signed) is stored, in its own transaction
   with the head row locked;
4. entries up to the newest anchor are deleted in batches, oldest first, one
   transaction each.

Step 4 runs on every run, so a run killed after step 3 (kill -9 included) leaves only
entries at or before the anchor, which verification does not read, and the next run
deletes them. A dry run does steps 1 and 2 and counts what step 4 would delete.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select

from lensguard.audit.anchors import AuditAnchor, anchor_statement, newest_anchor
from lensguard.audit.log import AuditLog, lock_head
from lensguard.audit.models import HEAD_ID, AuditCheckpoint, AuditEntry, AuditHead
from lensguard.store.db import Database

_LOG = cast(Table, AuditEntry.__table__)
LIMIT = 1_000_000
"""Entries one run may anchor past the current anchor (about a minute of verifying)."""
OnBatch = Callable[[int], Awaitable[None]]
"""Called after each deleted batch with the entries deleted so far (to renew a lease)."""


@dataclass(frozen=True)
class PruneResult:
    """What one run pruned (or would, in a dry run)."""

    removed: int
    anchor_seq: int | None
    """The anchor the kept log starts after (in a dry run, the one a run would sign)."""
    anchor_ts: datetime | None
    """When it was signed (None in a dry run that would sign a new one)."""
    refused: str | None = None
    """Why no new anchor was signed: the entries to prune do not verify."""


async def _target(
    db: Database, *, floor: int, before: datetime, keep_from: int | None, limit: int
) -> int:
    """The highest seq a run may prune now (``floor`` when nothing new may go)."""

    def scalar(column: Any, *where: Any) -> Any:
        return select(column).where(*where).scalar_subquery()

    statement = select(
        scalar(AuditHead.last_seq, AuditHead.id == HEAD_ID),
        scalar(func.max(AuditCheckpoint.seq)),
        # Bounded to the run's limit: the scan in seq order stops there at the latest.
        scalar(
            func.min(AuditEntry.seq),
            AuditEntry.seq > floor,
            AuditEntry.seq <= floor + limit + 1,
            AuditEntry.ts >= before,
        ),
    )
    async with db.engine.connect() as conn:
        last, checkpointed, first_kept = (await conn.execute(statement)).one()
    if last is None or checkpointed is None:
        return floor
    bounds = [int(last) - 1, int(checkpointed), floor + limit]
    if first_kept is not None:
        bounds.append(int(first_kept) - 1)
    if keep_from is not None:
        bounds.append(keep_from - 1)
    return max(floor, min(bounds))


async def _sign(db: Database, log: AuditLog, seq: int, now: datetime) -> None:
    async with db.transaction() as session:
        await lock_head(session)  # no append, erasure or other pruner in between
        newest = await session.scalar(select(func.max(AuditAnchor.seq)))
        if newest is not None and newest >= seq:
            return
        entry_hash = await session.scalar(
            select(AuditEntry.entry_hash).where(AuditEntry.seq == seq)
        )
        if entry_hash is None:
            raise ValueError(f"entry {seq} is missing; cannot anchor the log on it")
        statement = anchor_statement(seq=seq, entry_hash=entry_hash, ts=now)
        await session.execute(
            insert(AuditAnchor).values(
                seq=seq,
                entry_hash=entry_hash,
                ts=now,
                signature=log.sign(statement),
                key_id=log.key_id,
            )
        )


async def _delete_upto(db: Database, upto: int, batch: int, on_batch: OnBatch | None) -> int:
    removed = 0
    while True:
        async with db.transaction() as session:
            low = await session.scalar(select(func.min(AuditEntry.seq)))
            if low is None or low > upto:
                return removed
            high = min(int(low) + batch - 1, upto)
            result = await session.execute(delete(_LOG).where(_LOG.c.seq <= high))
            removed += int(result.rowcount)  # type: ignore[attr-defined]
        if on_batch is not None:
            await on_batch(removed)


async def _count_upto(db: Database, upto: int) -> int:
    async with db.engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(_LOG).where(_LOG.c.seq <= upto))
    return int(count or 0)


async def prune(
    db: Database,
    log: AuditLog,
    *,
    before: datetime,
    now: datetime,
    keep_from: int | None = None,
    limit: int = LIMIT,
    batch: int = 500,
    dry_run: bool = False,
    on_batch: OnBatch | None = None,
) -> PruneResult:
    """Prune entries older than ``before`` behind a signed anchor (see the module docstring)."""
    if batch < 1 or limit < 1:
        raise ValueError("batch and limit must be at least 1")
    current = await newest_anchor(db)
    floor = current.seq if current is not None else 0
    target = await _target(db, floor=floor, before=before, keep_from=keep_from, limit=limit)
    refused = None
    if target > floor:
        # Verify through the entry after the target: it must link to what gets anchored.
        report = await log.verify(db, upto=target + 1)
        if not report.ok:
            refused = f"the entries to prune do not verify: {report.reason}"
            target = floor
    upto = target
    if dry_run:
        signed = current if current is not None and current.seq == upto else None
        return PruneResult(
            await _count_upto(db, upto),
            upto or None,
            signed.ts if signed is not None else None,
            refused,
        )
    if target > floor:
        await _sign(db, log, target, now)
        current = await newest_anchor(db)
    if current is None:
        return PruneResult(0, None, None, refused)
    removed = await _delete_upto(db, current.seq, batch, on_batch)
    return PruneResult(removed, current.seq, current.ts, refused)
