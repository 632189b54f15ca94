"""Retention: how fast the job removes expired segments, and what the safe order costs.

Ours: ``recordings.retention.RetentionJob`` (default batch of 500) removing every
segment of 20 recordings of 500 segments each: per run of segments it shreds the
keys (one commit), deletes the files, then writes the ``recording.trimmed`` cut to
the audit chain and deletes the rows (a second commit), plus the
``recording.retention_run`` entry. Baseline in the same run: the same files deleted
through the same store, then every row deleted in one transaction, with no key
shredding first, no cut and no audit (not resumable: a crash between files and rows
leaves rows naming files that are gone, unrecorded). SQLite on a local file, the
local store (each delete flushes the directory); a fresh copy of the same database
and files per job; medians of the rounds.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select

from lensguard.audit.log import AuditLog
from lensguard.clock import ManualClock
from lensguard.recordings.index import GENESIS
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.lease import FileLease
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.retention import RetentionJob
from lensguard.recordings.settings import RetentionSettings
from lensguard.recordings.store import LocalStore
from lensguard.store import migrate
from lensguard.store.db import Database

RECORDINGS = 20
PER_RECORDING = 500
SEGMENTS = RECORDINGS * PER_RECORDING
SIZE = 1024  # bytes per file: the cost measured is per segment, not per byte
ROUNDS = 3
SECRET = secrets.token_urlsafe(48)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def populate(db_path: Path, files: Path) -> None:
    await asyncio.to_thread(migrate.upgrade, url_of(db_path))
    ring = KeyRing.from_secret(SECRET)
    store = LocalStore(files)
    db = Database(url_of(db_path))
    data = os.urandom(SIZE)
    try:
        async with db.transaction() as session:
            for n in range(SEGMENTS):
                _key, wrapped = ring.new_data_key()
                segment_id = f"{n:032x}"
                await store.put(segment_id, data)
                start = WHEN + timedelta(seconds=4 * (n % PER_RECORDING))
                session.add(
                    RecordingSegment(
                        id=segment_id,
                        recording_id=f"{n // PER_RECORDING:032x}",
                        seq=n % PER_RECORDING,
                        device_id="d" * 32,
                        stream="processed",
                        started_at=start,
                        ended_at=start + timedelta(seconds=4),
                        size=SIZE,
                        key_id=wrapped.key_id,
                        kek_version=wrapped.kek_version,
                        wrapped_key=wrapped.wrapped,
                        digest="0" * 64,
                        prev_digest=GENESIS,
                    )
                )
    finally:
        await db.dispose()


Job = Callable[[Database, LocalStore, Path], Awaitable[int]]


async def ours(db: Database, store: LocalStore, work: Path) -> int:
    clock = ManualClock(start=(WHEN + timedelta(days=200)).timestamp())
    job = RetentionJob(
        db,
        store,
        AuditLog.from_secret(SECRET),
        RetentionSettings(),
        clock=clock,
        lease=FileLease(work / "retention.lock"),
    )
    return (await job.run()).segments


async def baseline(db: Database, store: LocalStore, work: Path) -> int:
    async with db.sessions() as session:
        ids = list((await session.execute(select(RecordingSegment.id))).scalars().all())
    for segment_id in ids:
        await store.delete(segment_id)
    async with db.transaction() as session:
        await session.execute(delete(RecordingSegment))
    return len(ids)


async def measure(template: Path, files: Path, work: Path, job: Job) -> float:
    """Seconds (wall) for ``job`` on a fresh copy of the template database and files."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    shutil.copyfile(template, work / "lensguard.db")
    shutil.copytree(files, work / "recordings")
    db = Database(url_of(work / "lensguard.db"))
    store = LocalStore(work / "recordings")
    try:
        started = time.perf_counter()
        removed = await job(db, store, work)
        elapsed = time.perf_counter() - started
    finally:
        await db.dispose()
    if removed != SEGMENTS or await store.list():
        raise RuntimeError(f"removed {removed} of {SEGMENTS} segments")
    return elapsed


async def run_all() -> None:
    jobs: dict[str, Job] = {"ours: retention job": ours, "baseline: files, rows": baseline}
    results: dict[str, list[float]] = {name: [] for name in jobs}
    with tempfile.TemporaryDirectory(prefix="lg-bench-retention-") as tmp:
        template, files, work = Path(tmp) / "t.db", Path(tmp) / "files", Path(tmp) / "work"
        await populate(template, files)
        for _ in range(ROUNDS):
            for name, job in jobs.items():
                results[name].append(await measure(template, files, work, job))
    seconds = {name: statistics.median(values) for name, values in results.items()}
    base = seconds["baseline: files, rows"]
    print(f"{SEGMENTS:,} expired segments in {RECORDINGS} recordings, SQLite + local store")
    print(f"{'job':24} {'seconds':>8} {'segments/s':>11} {'us/segment':>11} {'vs baseline':>12}")
    for name, value in seconds.items():
        print(
            f"{name:24} {value:8.2f} {SEGMENTS / value:11,.0f} {value / SEGMENTS * 1e6:11.0f} "
            f"{value / base:11.2f}x"
        )


def main() -> None:
    asyncio.run(run_all())
