"""Subject export: time and peak memory as a person's audit rows grow.

Ours: ``privacy.export.write_export`` (rows streamed from the database in batches of
1,000, compressed on a worker thread into a zip on disk). Baseline in the same run:
the same rows and columns read with one ``fetchall``, every line held in memory, then
written into the zip at the end — what a first version would do. Three subjects with
25,000, 50,000 and 100,000 audit entries each in one SQLite database (plus a session
and an API key each). Time is measured without tracing; peak memory is Python's heap
(``tracemalloc``) in a separate run, so tracing does not slow the timed one.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from lensguard.audit import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.keyring.fields import FieldKeys
from lensguard.privacy.export import shown_columns, write_export
from lensguard.store import migrate
from lensguard.store.db import Database
from lensguard.store.models import User

SIZES = (25_000, 50_000, 100_000)
CHUNK = 5_000
SECRET = secrets.token_urlsafe(48)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MAX_BYTES = 16 * 1024**3


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def populate(db: Database, log: AuditLog) -> None:
    for size in SIZES:
        async with db.transaction() as session:
            user = User(username=f"user{size}", password_hash="x", role="viewer")
            session.add(user)
            await session.flush()
            user_id = user.id
        for start in range(0, size, CHUNK):
            events = [
                AuditEvent(
                    action="stream.view_start",
                    outcome="success",
                    actor_type="user",
                    actor_id=user_id,
                    actor_name=f"user{size}",
                    source_address="198.51.100.7",
                    resource_type="device",
                    resource_id=f"{n % 40:032x}",
                    details={"mode": "relay", "stream": "processed", "n": n},
                )
                for n in range(start, min(size, start + CHUNK))
            ]
            async with db.transaction() as session:
                await log.append_many(session, events)


async def baseline(db: Database, log: AuditLog, who: str, path: Path) -> None:
    """Everything in memory first, then one write."""
    async with db.sessions() as session:
        user = await session.scalar(select(User).where(User.username == who))
        assert user is not None
        ref = log.actor_ref("user", user.id)
        result = await session.execute(
            select(AuditEntry).where(AuditEntry.actor_ref == ref).order_by(AuditEntry.seq)
        )
        rows = result.scalars().all()
    shown, _ = shown_columns("audit_log")
    lines = []
    for row in rows:
        record = {c: getattr(row, c) for c in shown}
        record["ts"] = record["ts"].isoformat()
        record["details"] = json.loads(record["details"])
        lines.append(json.dumps(record, sort_keys=True))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("audit.jsonl", "\n".join(lines) + "\n")


async def ours(db: Database, log: AuditLog, who: str, path: Path) -> None:
    await write_export(
        db,
        log,
        who,
        path,
        max_bytes=MAX_BYTES,
        requested_by=None,
        now=NOW,
        fields=FieldKeys(secrets.token_bytes(32)),
    )


Export = Callable[[Database, AuditLog, str, Path], Awaitable[None]]


async def measure(
    db: Database, log: AuditLog, work: Export, who: str, out: Path
) -> tuple[float, float]:
    started = time.perf_counter()
    await work(db, log, who, out)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    await work(db, log, who, out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 1024**2


async def run(work_dir: Path) -> None:
    db_path = work_dir / "lensguard.db"
    await asyncio.to_thread(migrate.upgrade, url_of(db_path))
    db = Database(url_of(db_path))
    log = AuditLog.from_secret(SECRET)
    try:
        started = time.perf_counter()
        await populate(db, log)
        print(f"populated {sum(SIZES):,} audit entries in {time.perf_counter() - started:.1f}s")
        print(
            f"{'rows':>8} {'export':9} {'seconds':>8} {'rows/s':>9} {'peak MiB':>9} "
            f"{'time vs base':>13} {'memory vs base':>15}"
        )
        for size in SIZES:
            who = f"user{size}"
            base_s, base_mb = await measure(db, log, baseline, who, work_dir / "b.zip")
            our_s, our_mb = await measure(db, log, ours, who, work_dir / "o.zip")
            for name, seconds, peak in (("baseline", base_s, base_mb), ("ours", our_s, our_mb)):
                print(
                    f"{size:>8,} {name:9} {seconds:>8.2f} {size / seconds:>9,.0f} {peak:>9.1f} "
                    f"{seconds / base_s:>12.2f}x {peak / base_mb:>14.2f}x"
                )
    finally:
        await db.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        asyncio.run(run(Path(work)))


if __name__ == "__main__":
    main()
