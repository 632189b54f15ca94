"""The forwarder's durable queue: one SQLite file, WAL with ``synchronous=FULL``.

A committed insert has been fsynced, so ``put`` returning means the event survives
a crash or power cut. ``AUTOINCREMENT`` keeps ``seq`` growing even after the queue
empties, so a receiver deduplicating by ``seq`` never mistakes a new event for an
old one. Every call runs on one dedicated thread that owns the connection.

Each row carries ``queued_at`` (seconds on the injected clock); with ``max_age``
set, ``expire`` removes the rows queued longer ago than that, so events a SIEM never
took do not stay on disk for good (docs/privacy.md, *Retention*). Rows from files
written before the column existed are stamped when the file is opened, so they
expire ``max_age`` after the upgrade.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from lensguard.clock import Clock, SystemClock
from lensguard.monitor.alerts.event import QueuedEvent, SecurityEvent
from lensguard.private import ensure_private_file, private_dir
from lensguard.severity import Severity

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS siem_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    queued_at REAL
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS siem_queue_queued_at ON siem_queue (queued_at)"


def _decode(body: str) -> SecurityEvent:
    try:
        return SecurityEvent.from_dict(json.loads(body))
    except (ValueError, KeyError, TypeError):
        # Skipping the row would hide it and wedging on it would stop all forwarding:
        # send a stand-in so the receiver sees that this seq existed and was unreadable.
        return SecurityEvent.create("siem.unreadable_entry", Severity.HIGH)


@dataclass(frozen=True)
class PutResult:
    """What ``put`` did: the new events' ``seq`` values and how many old ones it dropped."""

    seqs: list[int]
    dropped: int
    last_dropped_seq: int | None


@dataclass(frozen=True)
class ExpireResult:
    """What ``expire`` did: how many events it removed and the newest ``seq`` among them."""

    expired: int
    last_expired_seq: int | None


class DurableQueue:
    """Events waiting for the SIEM, oldest first; at most ``max_events`` are kept.

    ``max_age`` (seconds, None: no limit) bounds how long an event may wait; ``clock``
    stamps and ages them.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_events: int = 100_000,
        max_age: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        if max_age is not None and max_age <= 0:
            raise ValueError("max_age must be positive")
        self.path = path
        self.max_events = max_events
        self.max_age = max_age
        self.clock: Clock = clock or SystemClock()
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        """Create the file (mode 0600) and its table if missing."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="siem-queue")
        await self._run(self._open)

    async def close(self) -> None:
        """Close the connection and its thread."""
        if self._executor is None:
            return
        await self._run(self._close)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def put(self, events: Sequence[SecurityEvent]) -> PutResult:
        """Append ``events`` durably (fsynced on return), dropping the oldest beyond the cap."""
        rows = [json.dumps(e.to_dict(), separators=(",", ":")) for e in events]
        now = self.clock.time()
        return await self._run(lambda: self._put(rows, now))

    async def expire(self) -> ExpireResult:
        """Remove the events queued more than ``max_age`` ago (none without a limit)."""
        if self.max_age is None:
            return ExpireResult(0, None)
        cutoff = self.clock.time() - self.max_age
        return await self._run(lambda: self._expire(cutoff))

    async def peek(self, limit: int) -> list[QueuedEvent]:
        """Up to ``limit`` of the oldest events, in ``seq`` order, without removing them."""
        rows = await self._run(
            lambda: (
                self._db()
                .execute("SELECT seq, event FROM siem_queue ORDER BY seq LIMIT ?", (limit,))
                .fetchall()
            )
        )
        return [QueuedEvent(seq, _decode(body)) for seq, body in rows]

    async def ack(self, up_to_seq: int) -> None:
        """Remove every event with ``seq`` at most ``up_to_seq``: the receiver has them."""
        await self._run(lambda: self._write("DELETE FROM siem_queue WHERE seq <= ?", (up_to_seq,)))

    async def size(self) -> int:
        """How many events wait."""
        row = await self._run(
            lambda: self._db().execute("SELECT count(*) FROM siem_queue").fetchone()
        )
        return int(row[0])

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._executor is None:
            raise RuntimeError("the queue is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the queue is not open")
        return self._conn

    def _open(self) -> None:
        # Events name users and addresses. SQLite gives its -wal and -shm files the
        # database file's mode, so they are owner-only too.
        private_dir(self.path.parent)
        ensure_private_file(self.path)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves (see architecture.md).
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(siem_queue)")}
        if "queued_at" not in columns:  # a file from before the age limit
            conn.execute("ALTER TABLE siem_queue ADD COLUMN queued_at REAL")
        conn.execute(_INDEX)
        self._conn = conn
        self._write(
            "UPDATE siem_queue SET queued_at = ? WHERE queued_at IS NULL", (self.clock.time(),)
        )

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _write(self, sql: str, params: tuple[float, ...]) -> None:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(sql, params)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _expire(self, cutoff: float) -> ExpireResult:
        conn = self._db()
        # A read first: most checks find nothing and need no write transaction.
        old = "SELECT 1 FROM siem_queue WHERE queued_at < ? LIMIT 1"
        if conn.execute(old, (cutoff,)).fetchone() is None:
            return ExpireResult(0, None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            (last,) = conn.execute(
                "SELECT max(seq) FROM siem_queue WHERE queued_at < ?", (cutoff,)
            ).fetchone()
            removed = conn.execute("DELETE FROM siem_queue WHERE queued_at < ?", (cutoff,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return ExpireResult(removed.rowcount, None if last is None else int(last))

    def _put(self, rows: list[str], now: float) -> PutResult:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            seqs = [
                int(
                    conn.execute(
                        "INSERT INTO siem_queue (event, queued_at) VALUES (?, ?)", (row, now)
                    ).lastrowid
                    or 0
                )
                for row in rows
            ]
            (count,) = conn.execute("SELECT count(*) FROM siem_queue").fetchone()
            excess = max(0, int(count) - self.max_events)
            last_dropped: int | None = None
            if excess:
                (last_dropped,) = conn.execute(
                    "SELECT seq FROM siem_queue ORDER BY seq LIMIT 1 OFFSET ?", (excess - 1,)
                ).fetchone()
                conn.execute("DELETE FROM siem_queue WHERE seq <= ?", (last_dropped,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return PutResult(seqs, excess, last_dropped)
