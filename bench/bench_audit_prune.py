"""Audit pruning: entries removed per second behind a signed anchor, against one DELETE.

Ours: ``audit.prune.prune`` removing 100,000 entries older than the retention (of
100,100), in batches of 500: it verifies the range first, signs and stores the anchor,
then deletes oldest first, one transaction each (a killed run is finished by the next).
Baseline in the same run: one DELETE of the same entries in one transaction (no
verification, no anchor: the chain no longer verifies afterwards). SQLite on a local
file; a fresh copy of the same database per job; medians of the rounds.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete

from bench._setup import fill_audit, print_times, time_on_copies, url_of
from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.audit.prune import prune
from lensguard.store import migrate
from lensguard.store.db import Database

OLD = 100_000
NEW = 100
ROUNDS = 3
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SECRET = secrets.token_urlsafe(48)


def event(n: int) -> AuditEvent:
    return AuditEvent(
        action="stream.view_start",
        outcome="success",
        actor_type="user",
        actor_id=f"user-{n % 50:04d}",
        actor_name=f"name-{n % 50:04d}",
        source_address="198.51.100.7",
        resource_type="camera",
        resource_id=f"cam-{n % 100:04d}",
        details={"n": n},
    )


def fixed(when: datetime) -> Callable[[], datetime]:
    return lambda: when


async def populate(path: Path) -> None:
    await asyncio.to_thread(migrate.upgrade, url_of(path))
    db = Database(url_of(path))
    try:
        for count, when in ((OLD, NOW - timedelta(days=400)), (NEW, NOW)):
            log = AuditLog.from_secret(SECRET, clock=fixed(when))
            await fill_audit(db, log, event, count)
    finally:
        await db.dispose()


async def ours(path: Path) -> int:
    db = Database(url_of(path))
    try:
        log = AuditLog.from_secret(SECRET)
        result = await prune(db, log, before=NOW - timedelta(days=180), now=NOW, batch=500)
        return result.removed
    finally:
        await db.dispose()


async def baseline(path: Path) -> int:
    db = Database(url_of(path))
    try:
        async with db.transaction() as session:
            result = await session.execute(delete(AuditEntry).where(AuditEntry.seq <= OLD))
        return int(result.rowcount)  # type: ignore[attr-defined]
    finally:
        await db.dispose()


async def verifies_from_the_anchor(path: Path) -> None:
    db = Database(url_of(path))
    try:
        report = await AuditLog.from_secret(SECRET).verify(db)
        assert report.ok and report.anchor_seq == OLD and report.checked == NEW, report
    finally:
        await db.dispose()


async def run(work: Path) -> None:
    seed = work / "seed.db"
    await populate(seed)
    jobs = {"baseline: one DELETE": baseline, "ours: verify, anchor, 500s": ours}

    async def check(name: str, copy: Path, removed: int) -> None:
        assert removed == OLD, (name, removed)
        if jobs[name] is ours:  # not timed
            await verifies_from_the_anchor(copy)

    medians = await time_on_copies(seed, jobs, rounds=ROUNDS, check=check)
    title = f"{OLD:,} audit entries past retention (of {OLD + NEW:,}), SQLite"
    print_times(title, OLD, medians, baseline="baseline: one DELETE")


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        asyncio.run(run(Path(work)))


if __name__ == "__main__":
    main()
