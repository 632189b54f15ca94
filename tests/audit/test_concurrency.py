"""Concurrent appenders on separate connections get gap-free, unique sequence numbers."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from lensguard.audit.log import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.store.db import Database
from tests.audit.support import login, make_log

TASKS = 4
APPENDS = 50


async def appender(db: Database, log: AuditLog, number: int) -> list[int]:
    seqs = []
    for i in range(APPENDS):
        async with db.transaction() as session:
            seqs.append(await log.append(session, login(f"task{number}-{i}")))
        await asyncio.sleep(0)  # let the other tasks interleave
    return seqs


async def test_parallel_appends_get_every_seq_exactly_once(db: Database) -> None:
    # One AuditLog per task, as separate server nodes would have.
    logs = [make_log(checkpoint_every=17) for _ in range(TASKS)]
    results = await asyncio.gather(*(appender(db, logs[n], n) for n in range(TASKS)))
    returned = sorted(seq for seqs in results for seq in seqs)
    assert returned == list(range(1, TASKS * APPENDS + 1))
    async with db.transaction() as session:
        stored = list(
            (await session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq))).scalars()
        )
    assert stored == returned
    # Each task saw its own appends in increasing order.
    assert all(seqs == sorted(seqs) for seqs in results)
    report = await make_log().verify(db)
    assert (report.ok, report.checked) == (True, TASKS * APPENDS)


async def test_parallel_appends_really_overlap_on_postgresql(pg_url: str) -> None:
    # Two open transactions: the second append must wait for the first commit.
    db = Database(pg_url)
    log = make_log()
    try:
        first = db.sessions()
        await first.begin()
        assert await log.append(first, login("first")) == 1

        async def second() -> int:
            async with db.transaction() as session:
                return await log.append(session, login("second"))

        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # blocked on the head row lock
        await first.commit()
        await first.close()
        assert await asyncio.wait_for(waiting, 10) == 2
        assert (await log.verify(db)).ok
    finally:
        await db.dispose()
