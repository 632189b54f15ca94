"""Data retention: rows removed per second, batched and resumable against one DELETE.

Ours: ``privacy.retention.DataRetention`` removing 40,000 ended sign-in sessions, each
with a refresh token, and 20,000 revoked API keys, in batches of 500 (one transaction
each, oldest first, so a killed run leaves whole batches), plus its audit entry.
Baseline in the same run: the same rows removed by one DELETE per table in a single
transaction (not resumable: a killed run undoes everything; one long lock). SQLite on a
local file; a fresh copy of the same database per job; medians of the rounds.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert

from bench._setup import print_times, time_on_copies, url_of
from lensguard.access.policy import load_policy
from lensguard.audit.log import AuditLog
from lensguard.clock import ManualClock
from lensguard.privacy.retention import DataRetention
from lensguard.recordings.lease import FileLease
from lensguard.settings import DataRetentionSettings
from lensguard.store import migrate
from lensguard.store.db import Database
from lensguard.store.models import ApiKey, LoginSession, RefreshToken, User

SESSIONS = 40_000
KEYS = 20_000
ROWS = SESSIONS * 2 + KEYS
ROUNDS = 3
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SECRET = secrets.token_urlsafe(48)


async def populate(path: Path) -> None:
    await asyncio.to_thread(migrate.upgrade, url_of(path))
    db = Database(url_of(path))
    old = NOW - timedelta(days=400)
    try:
        async with db.transaction() as session:
            session.add(User(id="u" * 32, username="ada", password_hash="x", role="viewer"))
        async with db.transaction() as session:
            await session.execute(
                insert(LoginSession),
                [
                    {
                        "id": f"s{n:031d}",
                        "user_id": "u" * 32,
                        "created_at": old,
                        "last_used_at": old + timedelta(seconds=n),
                        "expires_at": old + timedelta(days=1),
                    }
                    for n in range(SESSIONS)
                ],
            )
            await session.execute(
                insert(RefreshToken),
                [
                    {"id": f"r{n:031d}", "session_id": f"s{n:031d}", "token_hash": f"{n:064d}"}
                    for n in range(SESSIONS)
                ],
            )
            await session.execute(
                insert(ApiKey),
                [
                    {
                        "id": f"k{n:031d}",
                        "name": "k",
                        "owner_user_id": "u" * 32,
                        "secret_hash": f"{n:064d}",
                        "scopes": [],
                        "expires_at": old + timedelta(days=30),
                        "revoked_at": old,
                    }
                    for n in range(KEYS)
                ],
            )
    finally:
        await db.dispose()


async def ours(path: Path) -> int:
    db = Database(url_of(path))
    try:
        job = DataRetention(
            db,
            AuditLog.from_secret(SECRET),
            load_policy(None),
            DataRetentionSettings(),
            clock=ManualClock(start=NOW.timestamp()),
            lease=FileLease(path.with_suffix(".lock")),
        )
        report = await job.run()
        return sum(report.removed.values()) + report.removed["sessions"]  # + their tokens
    finally:
        await db.dispose()


async def baseline(path: Path) -> int:
    db = Database(url_of(path))
    try:
        async with db.transaction() as session:
            tokens = await session.execute(delete(RefreshToken))
            sessions = await session.execute(
                delete(LoginSession).where(LoginSession.last_used_at < NOW)
            )
            keys = await session.execute(delete(ApiKey).where(ApiKey.revoked_at < NOW))
        return sum(int(r.rowcount) for r in (tokens, sessions, keys))  # type: ignore[attr-defined]
    finally:
        await db.dispose()


async def run(work: Path) -> None:
    seed = work / "seed.db"
    await populate(seed)
    jobs = {"baseline: one DELETE": baseline, "ours: batches of 500": ours}

    async def check(name: str, copy: Path, removed: int) -> None:
        # ours keeps the user's newest session: its last sign-in stays known
        assert removed in (ROWS, ROWS - 2), (name, removed)

    medians = await time_on_copies(seed, jobs, rounds=ROUNDS, check=check)
    title = f"{ROWS:,} expired rows (sessions, refresh tokens, API keys), SQLite"
    print_times(title, ROWS, medians, baseline="baseline: one DELETE")


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        asyncio.run(run(Path(work)))


if __name__ == "__main__":
    main()
