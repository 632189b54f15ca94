"""Retention across processes and nodes: kill -9 of a real run, the Redis lease, the schedule."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from lensguard.recordings.keys import KeyRing
from lensguard.recordings.lease import FileLease, RedisLease
from lensguard.recordings.retention import RetentionJob
from lensguard.recordings.schedule import RetentionSchedule
from lensguard.recordings.settings import RetentionSettings
from lensguard.recordings.store import LocalStore
from lensguard.store.db import Database
from tests.audit.support import MASTER as AUDIT_MASTER
from tests.audit.support import make_log
from tests.recordings.retention_support import (
    MASTER,
    START,
    clock_at,
    daily,
    record,
    rows_of,
    verified,
)

DEVICE = "cam-cluster-1"
ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import datetime
    from pathlib import Path
    from lensguard.audit.log import AuditLog
    from lensguard.clock import ManualClock
    from lensguard.recordings.lease import FileLease
    from lensguard.recordings.retention import RetentionJob
    from lensguard.recordings.settings import RetentionSettings
    from lensguard.recordings.store import LocalStore
    from lensguard.store.db import Database

    url, root, lock, now, step, master = sys.argv[1:7]

    def die(done):
        if done == step:
            os.kill(os.getpid(), signal.SIGKILL)

    class DyingStore(LocalStore):
        deleted = 0

        async def delete(self, segment_id):
            removed = await super().delete(segment_id)
            DyingStore.deleted += 1
            if step == "mid-files" and DyingStore.deleted == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return removed

    async def main():
        db = Database(url)
        job = RetentionJob(
            db,
            DyingStore(Path(root)),
            AuditLog.from_secret(master),
            RetentionSettings(batch=2),
            clock=ManualClock(start=datetime.fromisoformat(now).timestamp()),
            lease=FileLease(Path(lock)),
            crash=die,
        )
        await job.run()

    asyncio.run(main())
    """
)


@pytest.mark.process
@pytest.mark.parametrize("step", ["keys", "mid-files", "files", "rows"])
async def test_a_run_killed_with_sigkill_is_finished_by_the_next(
    db: Database, db_url: str, tmp_path: Path, step: str
) -> None:
    store = LocalStore(tmp_path / "var" / "recordings")
    ring, audit = KeyRing.from_secret(MASTER), make_log()
    rid, rows = await record(db, store, ring, audit, device_id=DEVICE, starts=daily(6))
    now = START + timedelta(days=93, hours=1)  # segments 0 to 3 expired (two batches of 2)
    lock = tmp_path / "retention.lock"
    child = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            CHILD,
            db_url,
            str(store.root),
            str(lock),
            now.isoformat(),
            step,
            AUDIT_MASTER,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -9, child.stderr
    # The lock died with the process: the next run is not locked out.
    job = RetentionJob(
        db, store, audit, RetentionSettings(), clock=clock_at(now), lease=FileLease(lock)
    )
    report = await job.run()
    assert report.ran
    assert [r.seq for r in await rows_of(db, rid)] == [4, 5]
    assert sorted(await store.list()) == sorted(r.id for r in rows[4:])
    checked = await verified(db, store, rid)
    assert checked.ok, checked.problems
    assert checked.trimmed == 4


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def test_the_redis_lease_is_held_by_one_node_and_expires_with_it(redis: Redis) -> None:
    key = f"lg-test:{uuid.uuid4().hex}"
    first, second = RedisLease(redis, ttl=60, key=key), RedisLease(redis, ttl=60, key=key)
    assert await first.acquire()
    assert not await second.acquire()
    assert 0 < await redis.ttl(key) <= 60  # a node that dies frees it within the TTL
    assert await first.renew()
    await second.release()  # not the holder: changes nothing
    assert not await second.acquire()
    await first.release()
    assert await second.acquire()
    assert not await first.renew()  # lost: the job stops at its next batch


async def test_the_schedule_runs_on_the_apps_clock(db: Database, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "var" / "recordings")
    ring, audit = KeyRing.from_secret(MASTER), make_log()
    rid, _ = await record(db, store, ring, audit, device_id=DEVICE, starts=daily(3))
    clock = clock_at(START + timedelta(days=89, hours=1))  # nothing expired yet
    settings = RetentionSettings(interval_seconds=86_400)
    job = RetentionJob(db, store, audit, settings, clock=clock, lease=FileLease(tmp_path / "l"))
    schedule = RetentionSchedule(job, None, clock=clock, interval=settings.interval_seconds)
    schedule.start()
    try:
        await clock.advance(86_400)  # segment 0 has expired
        await schedule.until_turns(1)
        assert [r.seq for r in await rows_of(db, rid)] == [1, 2]
        await clock.advance(86_400)  # a day later, segment 1 too
        await schedule.until_turns(2)
        assert [r.seq for r in await rows_of(db, rid)] == [2]
    finally:
        await schedule.stop()
    assert schedule.count == 2
