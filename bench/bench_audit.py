"""Audit log: durable appends per second and verification speed, SQLite and PostgreSQL.

Baseline in the same run: a plain INSERT of the same row into a copy of the table,
no head-row lock, no HMAC, no checkpoint. Appends are measured one per transaction
(as a request does) and 100 per transaction; verification over 20,000 entries is
compared with just reading the same rows in the same batches.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Index, MetaData, Table, insert, select

from bench._setup import AUDIT_SECRET, fill_audit, on_both_backends, reset_audit
from lensguard.audit import AuditEvent, AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.store.db import Database

SECONDS = 0.5
REPEATS = 3
BATCH = 100
VERIFY_ENTRIES = 20_000
READ_BATCH = 5000

EVENT = AuditEvent(
    action="auth.login",
    outcome="success",
    actor_type="user",
    actor_id="0123456789abcdef0123456789abcdef",
    actor_name="ada",
    source_address="198.51.100.10",
    resource_type="session",
    resource_id="fedcba9876543210fedcba9876543210",
    details={"method": "password", "mfa": True},
)


def plain_table() -> Table:
    """The audit_log columns and indexes under another name: the baseline's table."""
    columns = [column._copy() for column in AuditEntry.__table__.columns]
    table = Table("bench_plain_log", MetaData(), *columns)
    Index("ix_bench_plain_log_resource", table.c.resource_type, table.c.resource_id)
    return table


async def rate(fn: Callable[[], Awaitable[int]]) -> float:
    """Entries per second of ``fn`` (which returns how many it wrote)."""
    await fn()  # warm up
    done = 0
    started = time.perf_counter()
    while True:
        done += await fn()
        elapsed = time.perf_counter() - started
        if elapsed >= SECONDS:
            return done / elapsed


async def paired(
    label: str,
    ours: Callable[[], Awaitable[int]],
    plain: Callable[[], Awaitable[int]],
    *,
    names: tuple[str, str] = ("ours", "plain"),
    width: int = 34,
) -> None:
    """Interleave short slices of both and keep the medians: the machine's load drifts."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(REPEATS):
        samples[0].append(await rate(ours))
        samples[1].append(await rate(plain))
    a, b = (statistics.median(values) for values in samples)
    print(
        f"  {label:<{width}} {names[0]} {a:>9,.0f}/s   {names[1]} {b:>9,.0f}/s   "
        f"ratio {a / b:5.2f}x"
    )


async def bench_backend(name: str, url: str) -> None:
    db = Database(url)
    log = AuditLog.from_secret(AUDIT_SECRET)
    plain = plain_table()
    async with db.engine.begin() as conn:
        await conn.run_sync(plain.metadata.create_all)
    seq = iter(range(1, 10**9))
    async with db.transaction() as session:
        await log.append(session, EVENT)
        first = (await session.execute(select(AuditEntry.__table__))).one()
    template = dict(first._mapping)  # the very row ours writes, hashes and all

    def plain_row() -> dict[str, Any]:
        return {**template, "seq": next(seq)}

    async def ours_single() -> int:
        async with db.transaction() as session:
            await log.append(session, EVENT)
        return 1

    async def plain_single() -> int:
        async with db.transaction() as session:
            await session.execute(insert(plain), plain_row())
        return 1

    async def ours_batch() -> int:
        async with db.transaction() as session:
            for _ in range(BATCH):
                await log.append(session, EVENT)
        return BATCH

    async def plain_batch() -> int:
        async with db.transaction() as session:
            for _ in range(BATCH):
                await session.execute(insert(plain), plain_row())
        return BATCH

    async def ours_many() -> int:
        async with db.transaction() as session:
            await log.append_many(session, [EVENT] * BATCH)
        return BATCH

    async def plain_many() -> int:
        async with db.transaction() as session:
            await session.execute(insert(plain), [plain_row() for _ in range(BATCH)])
        return BATCH

    try:
        print(f"{name}")
        await paired("1 append per transaction", ours_single, plain_single)
        await paired(f"{BATCH} append() per transaction", ours_batch, plain_batch)
        await paired(f"append_many({BATCH}) per transaction", ours_many, plain_many)
        await bench_verify(db, log)
    finally:
        await db.dispose()


async def verify_rate(db: Database, log: AuditLog, entries: int) -> float:
    """Entries per second of one full verification, which must check ``entries``."""
    started = time.perf_counter()
    report = await log.verify(db)
    rate = report.checked / (time.perf_counter() - started)
    if not report.ok or report.checked != entries:
        raise RuntimeError(f"bench setup is wrong: {report}")
    return rate


async def bench_verify(db: Database, log: AuditLog) -> None:
    await reset_audit(db)
    await fill_audit(db, log, lambda _: EVENT, VERIFY_ENTRIES)

    async def read_only() -> int:
        after, count = 0, 0
        columns = [c for c in AuditEntry.__table__.columns]
        while True:
            async with db.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(*columns)
                        .where(AuditEntry.seq > after)
                        .order_by(AuditEntry.seq)
                        .limit(READ_BATCH)
                    )
                ).all()
            if not rows:
                return count
            count += len(rows)
            after = rows[-1].seq

    ours_rates, read_rates = [], []
    for _ in range(REPEATS):
        ours_rates.append(await verify_rate(db, log, VERIFY_ENTRIES))
        started = time.perf_counter()
        read = await read_only()
        read_rates.append(read / (time.perf_counter() - started))
    ours, base = statistics.median(ours_rates), statistics.median(read_rates)
    label = f"verify {VERIFY_ENTRIES:,} entries"
    print(f"  {label:<34} ours {ours:>9,.0f}/s   read  {base:>9,.0f}/s   ratio {ours / base:5.2f}x")


def main() -> None:
    on_both_backends(bench_backend)


if __name__ == "__main__":
    main()
