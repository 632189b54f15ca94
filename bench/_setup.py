"""Setup shared by the audit and retention benchmarks (not a benchmark: no ``bench_``).

- ``on_both_backends``: a migrated SQLite file, then a throwaway PostgreSQL database
  (skipped when ``LENSGUARD_BENCH_PG`` is unreachable), for benchmarks of both;
- ``reset_audit`` and ``fill_audit``: an empty audit chain, then ``count`` entries
  appended 1,000 per transaction;
- ``time_on_copies`` and ``print_times``: jobs timed on a fresh copy of one seeded
  SQLite file each, medians of the rounds against the baseline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lensguard.audit import AuditEvent, AuditLog
from lensguard.store import migrate
from lensguard.store.db import Database

PG_ADMIN = os.environ.get("LENSGUARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
AUDIT_SECRET = "bench master secret, used nowhere else, 0123456789"
FILL_BATCH = 1000


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def with_pg_database(run: Callable[[str], Awaitable[None]]) -> None:
    """``run`` on a fresh, migrated PostgreSQL database, dropped afterwards."""
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL at {PG_ADMIN} unreachable ({type(exc).__name__}); skipped")
        return
    name = f"lg_bench_{uuid.uuid4().hex[:12]}"
    try:
        settings = {k: await admin.fetchval(f"SHOW {k}") for k in ("fsync", "synchronous_commit")}
        await admin.execute(  # nosemgrep: string-built-sql (a name made here)
            f'CREATE DATABASE "{name}"'
        )
    finally:
        await admin.close()
    url = make_url(PG_ADMIN).set(drivername="postgresql+asyncpg", database=name)
    rendered = url.render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrate.upgrade, rendered)
        print(f"(PostgreSQL {', '.join(f'{k}={v}' for k, v in settings.items())})")
        await run(rendered)
    finally:
        admin = await asyncpg.connect(PG_ADMIN, timeout=3)
        try:
            await admin.execute(  # nosemgrep: string-built-sql (a name made here)
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
        finally:
            await admin.close()


def on_both_backends(bench_backend: Callable[[str, str], Awaitable[None]]) -> None:
    """``bench_backend(name, url)`` on SQLite (WAL, synchronous=FULL), then PostgreSQL."""
    with tempfile.TemporaryDirectory() as tmp:
        url = url_of(Path(tmp) / "bench.db")
        migrate.upgrade(url)
        print("(SQLite WAL, synchronous=FULL)")
        asyncio.run(bench_backend("SQLite", url))
    asyncio.run(with_pg_database(lambda url: bench_backend("PostgreSQL", url)))


async def reset_audit(db: Database) -> None:
    """An empty audit chain: no entries, checkpoints or subject keys, the head at zero."""
    async with db.transaction() as session:
        for table in ("audit_log", "audit_checkpoints", "audit_subject_keys"):
            await session.execute(text(f"DELETE FROM {table}"))  # nosemgrep: string-built-sql
        await session.execute(
            text("UPDATE audit_head SET last_seq = 0, last_hash = :h"), {"h": "0" * 64}
        )


async def fill_audit(
    db: Database, log: AuditLog, event: Callable[[int], AuditEvent], count: int, *, start: int = 0
) -> None:
    """Append ``event(n)`` for n in [start, start + count), 1,000 per transaction."""
    end = start + count
    for first in range(start, end, FILL_BATCH):
        async with db.transaction() as session:
            await log.append_many(
                session, [event(n) for n in range(first, min(first + FILL_BATCH, end))]
            )


async def time_on_copies(
    seed: Path,
    jobs: Mapping[str, Callable[[Path], Awaitable[int]]],
    *,
    rounds: int,
    check: Callable[[str, Path, int], Awaitable[None]],
) -> dict[str, float]:
    """Each job's median seconds over ``rounds``, each run on a fresh copy of ``seed``.

    ``check(name, copy, result)`` runs after each job, untimed.
    """
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            copy = seed.with_name("copy.db")
            shutil.copy(seed, copy)
            started = time.perf_counter()
            result = await job(copy)
            times[name].append(time.perf_counter() - started)
            await check(name, copy, result)
    return {name: statistics.median(values) for name, values in times.items()}


def print_times(title: str, rows: int, medians: Mapping[str, float], *, baseline: str) -> None:
    """The table of seconds, rows per second and the ratio to ``baseline``."""
    width = max(len(name) for name in medians) + 2
    base = medians[baseline]
    print(title)
    print(f"{'job':{width}} {'seconds':>8} {'rows/s':>10} {'vs baseline':>12}")
    for name, seconds in medians.items():
        print(f"{name:{width}} {seconds:>8.2f} {rows / seconds:>10,.0f} {seconds / base:>11.2f}x")
