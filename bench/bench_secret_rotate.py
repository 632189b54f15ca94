"""Master-secret rotation: how long ``lensguard secret rotate`` takes per stored secret.

Ours: ``rotation.engine.Rotation`` moving recording data keys (the rows a deployment
has most of) to a new master secret, with the default batch of 200 rows per
transaction and with 1,000, each batch also recording the cursor, then the final scan
that checks nothing is left under the old secret. Baseline in the same run:
``recordings.index.rewrap_all``, the KEK rotation, re-wrapping the same rows in one
transaction with no cursor and no scan (it cannot resume, and a crash loses it all).
SQLite on a local file with ``synchronous=FULL`` (a commit per batch is an fsync), a
fresh copy of the same database for each run; medians of the rounds.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from lensguard.recordings.index import rewrap_all
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import RecordingSegment
from lensguard.rotation.engine import Rotation
from lensguard.store import migrate
from lensguard.store.db import Database

ROWS = 20_000
ROUNDS = 3
OLD = secrets.token_urlsafe(48)
NEW = secrets.token_urlsafe(48)
WHEN = datetime(2026, 12, 4, tzinfo=UTC)


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def populate(path: Path) -> None:
    await asyncio.to_thread(migrate.upgrade, url_of(path))
    ring = KeyRing.from_secret(OLD)
    db = Database(url_of(path))
    try:
        async with db.transaction() as session:
            for seq in range(ROWS):
                _key, wrapped = ring.new_data_key()
                session.add(
                    RecordingSegment(
                        id=f"{seq:032x}",
                        recording_id=f"{seq // 1000:032x}",
                        seq=seq % 1000,
                        device_id="d" * 32,
                        stream="processed",
                        started_at=WHEN,
                        ended_at=WHEN,
                        size=1,
                        key_id=wrapped.key_id,
                        kek_version=wrapped.kek_version,
                        wrapped_key=wrapped.wrapped,
                        digest="0" * 64,
                        prev_digest="0" * 64,
                    )
                )
    finally:
        await db.dispose()


def rotation(batch: int) -> Callable[[Database], Awaitable[int]]:
    async def run(db: Database) -> int:
        return (await Rotation(db, old=OLD, new=NEW, batch=batch).run()).moved

    return run


async def kek_rewrap(db: Database) -> int:
    ring = KeyRing.from_secret(OLD, versions=(1, 2))
    async with db.transaction() as session:
        return await rewrap_all(session, ring)


async def measure(template: Path, work: Path, job: Callable[[Database], Awaitable[int]]) -> float:
    """Seconds (wall) for ``job`` on a fresh copy of the template database."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, work)
    db = Database(url_of(work))
    try:
        started = time.perf_counter()
        moved = await job(db)
        elapsed = time.perf_counter() - started
    finally:
        await db.dispose()
    if moved != ROWS:
        raise RuntimeError(f"moved {moved} of {ROWS} rows")
    return elapsed


async def run_all() -> None:
    jobs = {
        "ours: rotate, batch 200": rotation(200),
        "ours: rotate, batch 1000": rotation(1000),
        "KEK rewrap_all, one txn": kek_rewrap,
    }
    results: dict[str, list[float]] = {name: [] for name in jobs}
    with tempfile.TemporaryDirectory(prefix="lg-bench-rotate-") as tmp:
        template, work = Path(tmp) / "template.db", Path(tmp) / "work.db"
        await populate(template)
        for _ in range(ROUNDS):
            for name, job in jobs.items():
                results[name].append(await measure(template, work, job))
    seconds = {name: statistics.median(values) for name, values in results.items()}
    baseline = seconds["KEK rewrap_all, one txn"]
    print(f"{ROWS:,} recording data keys on SQLite (fsync per commit), {ROUNDS} rounds")
    print(f"{'job':28} {'seconds':>8} {'rows/s':>9} {'us/row':>7} {'vs baseline':>12}")
    for name, value in seconds.items():
        print(
            f"{name:28} {value:8.2f} {ROWS / value:9,.0f} {value / ROWS * 1e6:7.0f} "
            f"{value / baseline:11.2f}x"
        )


def main() -> None:
    asyncio.run(run_all())
