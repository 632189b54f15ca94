"""API-key verifications per second: keyed HMAC-SHA256 vs PBKDF2 (100,000 iterations).

Both designs run in the same process on the same machine: (a) the hash check alone,
(b) a full verification against a real, migrated SQLite database (row lookup by key
id, then the hash check), one transaction per verification as a request would do.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lensguard.identity.apikeys import generate, hash_secret, secret_matches, verify_api_key
from lensguard.protect.subkeys import Purpose, derive
from lensguard.store import migrate
from lensguard.store.api_keys import create_api_key, get_api_key
from lensguard.store.db import Database

PBKDF2_ITERATIONS = 100_000
# Each measurement runs at least this long (and at least MIN_ROUNDS times).
SECONDS = 1.0
MIN_ROUNDS = 5
REPEATS = 3

PEPPER = derive("bench master secret, not used anywhere else", Purpose.API_KEY_PEPPER)


def pbkdf2_hex(key_id: str, secret: str) -> str:
    """The seeds' design: PBKDF2-HMAC-SHA256, key id as salt, 100,000 iterations."""
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), key_id.encode(), PBKDF2_ITERATIONS).hex()


def rate(fn: Callable[[], object]) -> float:
    """Calls per second of ``fn``."""
    fn()  # warm up
    rounds = 0
    started = time.perf_counter()
    while True:
        fn()
        rounds += 1
        elapsed = time.perf_counter() - started
        if elapsed >= SECONDS and rounds >= MIN_ROUNDS:
            return rounds / elapsed


async def async_rate(fn: Callable[[], Awaitable[object]]) -> float:
    """Calls per second of the coroutine function ``fn``."""
    await fn()
    rounds = 0
    started = time.perf_counter()
    while True:
        await fn()
        rounds += 1
        elapsed = time.perf_counter() - started
        if elapsed >= SECONDS and rounds >= MIN_ROUNDS:
            return rounds / elapsed


def report(label: str, ours: float, theirs: float) -> None:
    print(f"{label}")
    print(f"  HMAC-SHA256 (ours)      {ours:>12,.0f} /s")
    print(f"  PBKDF2 100k (seeds')    {theirs:>12,.1f} /s")
    print(f"  ratio ours/seeds'       {ours / theirs:>12,.0f}x")


def bench_hash_only() -> None:
    key = generate()
    stored_hmac = hash_secret(PEPPER, key.key_id, key.secret)
    stored_pbkdf2 = pbkdf2_hex(key.key_id, key.secret)

    def ours() -> bool:
        return secret_matches(PEPPER, key.key_id, key.secret, stored_hmac)

    def theirs() -> bool:
        return hmac.compare_digest(pbkdf2_hex(key.key_id, key.secret), stored_pbkdf2)

    if not (ours() and theirs()):
        raise RuntimeError("bench setup is wrong: a valid key did not verify")
    report("(a) hash check alone", rate(ours), rate(theirs))


async def bench_full(url: str) -> None:
    db = Database(url)
    now = datetime.now(UTC)
    ours_key, theirs_key = generate(), generate()
    try:
        async with db.transaction() as session:
            for key, secret_hash in (
                (ours_key, hash_secret(PEPPER, ours_key.key_id, ours_key.secret)),
                (theirs_key, pbkdf2_hex(theirs_key.key_id, theirs_key.secret)),
            ):
                await create_api_key(
                    session,
                    key_id=key.key_id,
                    name="bench",
                    owner_user_id=None,
                    secret_hash=secret_hash,
                    scopes=["streams:read"],
                    expires_at=now + timedelta(days=1),
                )

        async def ours() -> None:
            async with db.transaction() as session:
                await verify_api_key(session, pepper=PEPPER, presented=ours_key.presented, now=now)

        async def theirs() -> None:
            async with db.transaction() as session:
                row = await get_api_key(session, key_id=theirs_key.key_id)
                computed = pbkdf2_hex(theirs_key.key_id, theirs_key.secret)
                if row is None or not hmac.compare_digest(computed, row.secret_hash):
                    raise RuntimeError("bench setup is wrong: a valid key did not verify")

        async def lookup_only() -> None:
            async with db.transaction() as session:
                await get_api_key(session, key_id=ours_key.key_id)

        # SQLite throughput drifts over a run (WAL growth, checkpoints, page cache):
        # interleave short slices of each variant and keep the median.
        samples: dict[str, list[float]] = {"ours": [], "theirs": [], "lookup": []}
        for _ in range(REPEATS):
            samples["ours"].append(await async_rate(ours))
            samples["theirs"].append(await async_rate(theirs))
            samples["lookup"].append(await async_rate(lookup_only))
        median = {name: statistics.median(values) for name, values in samples.items()}
        report("(b) full verification, SQLite lookup + check", median["ours"], median["theirs"])
        # Where the time goes in (b): the transaction and row lookup, without any hash.
        print(f"  lookup alone, no hash   {median['lookup']:>12,.0f} /s")
    finally:
        await db.dispose()


def main() -> None:
    bench_hash_only()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        asyncio.run(bench_full(url))


if __name__ == "__main__":
    main()
