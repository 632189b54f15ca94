"""Sign-in lookup by e-mail through the blind index, against a plaintext lookup by name.

Ours: ``identity.profile.user_by_email`` (normalise the address, HMAC-SHA256 under the
blind-index key, one query on the unique ``users.email_index``), then opening the
account's sealed e-mail (AES-256-GCM). Baseline in the same run: the plaintext lookup
sign-in by username does (``store.users.get_user_by_username``: one query on the unique
``users.username``). 20,000 accounts on a local SQLite file, one session per lookup as
sign-in opens, medians of the rounds.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from lensguard.identity.profile import EMAIL_INDEX, read_profile, user_by_email
from lensguard.keyring import sealed
from lensguard.keyring.fields import FieldKeys
from lensguard.store import migrate
from lensguard.store.db import Database
from lensguard.store.models import User
from lensguard.store.users import get_user_by_username

ACCOUNTS = 20_000
LOOKUPS = 2_000
ROUNDS = 3


async def populate(db: Database, keys: FieldKeys) -> None:
    for start in range(0, ACCOUNTS, 1_000):
        async with db.transaction() as session:
            for n in range(start, start + 1_000):
                user = User(id=f"{n:032d}", username=f"user{n}", password_hash="x", role="viewer")
                session.add(user)
                email = f"user{n}@example.org"
                user.email_index = await keys.index(session, email, column=EMAIL_INDEX, create=True)
                await sealed.write(keys, session, sealed.USERS, user, {"email": email})


async def by_name(db: Database, keys: FieldKeys, n: int) -> None:
    async with db.sessions() as session:
        user = await get_user_by_username(session, username=f"user{n}")
    assert user is not None


async def by_email(db: Database, keys: FieldKeys, n: int) -> None:
    async with db.sessions() as session:
        user = await user_by_email(keys, session, f"User{n}@Example.org")
        assert user is not None
        assert (await read_profile(keys, session, user)).email == f"user{n}@example.org"


async def run(work: Path) -> None:
    url = f"sqlite+aiosqlite:///{work / 'lookup.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    keys = FieldKeys(secrets.token_bytes(32))
    try:
        await populate(db, keys)
        picks = [random.randrange(ACCOUNTS) for _ in range(LOOKUPS)]
        jobs = {"baseline: username, clear": by_name, "ours: e-mail, blind index": by_email}
        times: dict[str, list[float]] = {name: [] for name in jobs}
        for _ in range(ROUNDS):
            for name, job in jobs.items():
                started = time.perf_counter()
                for n in picks:
                    await job(db, keys, n)
                times[name].append((time.perf_counter() - started) / LOOKUPS)
    finally:
        await db.dispose()
    base = statistics.median(times["baseline: username, clear"])
    print(f"sign-in lookup among {ACCOUNTS:,} accounts, SQLite, {LOOKUPS:,} lookups a round")
    print(f"{'lookup':28} {'us each':>8} {'per s':>8} {'vs baseline':>12}")
    for name, values in times.items():
        each = statistics.median(values)
        print(f"{name:28} {each * 1e6:>8.0f} {1 / each:>8,.0f} {each / base:>11.2f}x")


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        asyncio.run(run(Path(work)))


if __name__ == "__main__":
    main()
