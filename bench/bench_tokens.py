"""Access-token verifications per second: TokenService (Ed25519) vs PyJWT HS256.

Both run in the same process on the same machine. Ours is ``TokenService.verify_access``
with its key cached (after one warm-up call), over a real, migrated SQLite database,
twice: verifying the signature every time (``cache_entries=0``) and with the verified-
token cache (``identity/token_cache.py``: a hit still checks the key is published and
the token's times);
the baseline is the seeds' design, a plain ``jwt.decode`` of an equivalent token signed
with HS256 under a shared secret, checking the same audience, issuer and claims. A third
line, PyJWT decoding our EdDSA token directly, shows how much of the cost is Ed25519.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jwt

from lensguard.identity.tokens import LEEWAY, REQUIRED_CLAIMS, TokenService
from lensguard.logs import configure_logging
from lensguard.protect.subkeys import Purpose, derive
from lensguard.store import migrate
from lensguard.store.db import Database

# Each measurement runs at least this long; the median of REPEATS is reported.
SECONDS = 1.0
REPEATS = 3
BATCH = 200
ISSUER = "https://lensguard.bench"
AUDIENCE = "lensguard-api"
LIFETIME = 900
WRAP_KEY = derive("bench master secret, not used anywhere else", Purpose.WRAP)


def rate(fn: Callable[[], object]) -> float:
    """Calls per second of ``fn``."""
    fn()
    calls = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < SECONDS:
        for _ in range(BATCH):
            fn()
        calls += BATCH
    return calls / elapsed


async def async_rate(fn: Callable[[], Awaitable[object]]) -> float:
    """Calls per second of the coroutine function ``fn``."""
    await fn()
    calls = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < SECONDS:
        for _ in range(BATCH):
            await fn()
        calls += BATCH
    return calls / elapsed


def hs256_token(claims: dict[str, Any], secret: bytes) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "at+jwt", "kid": "k1"})


async def measure(url: str) -> tuple[float, float, float, float]:
    db = Database(url)
    try:
        service = TokenService(
            db, wrap_key=WRAP_KEY, issuer=ISSUER, audience=AUDIENCE, lifetime=LIFETIME
        )
        uncached = TokenService(
            db,
            wrap_key=WRAP_KEY,
            issuer=ISSUER,
            audience=AUDIENCE,
            lifetime=LIFETIME,
            cache_entries=0,
        )
        issued = await service.issue_access(
            subject="user-1", session_id="sess-1", principal_kind="user", extra_claims={"role": "x"}
        )
        claims = jwt.decode(issued.token, options={"verify_signature": False})
        secret = secrets.token_bytes(32)
        hs_token = hs256_token(claims, secret)
        public_key = jwt.PyJWK((await service.jwks())["keys"][0]).key
        options: Any = {"require": list(REQUIRED_CLAIMS)}

        def seeds() -> object:
            return jwt.decode(
                hs_token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
                leeway=LEEWAY, options=options,
            )  # fmt: skip

        def eddsa_only() -> object:
            return jwt.decode(
                issued.token, public_key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER,
                leeway=LEEWAY, options=options,
            )  # fmt: skip

        ours, cached, theirs, raw = [], [], [], []
        for _ in range(REPEATS):  # interleaved, so drift in machine load hits all four
            ours.append(await async_rate(lambda: uncached.verify_access(issued.token)))
            cached.append(await async_rate(lambda: service.verify_access(issued.token)))
            theirs.append(rate(seeds))
            raw.append(rate(eddsa_only))
        medians = (statistics.median(m) for m in (ours, cached, theirs, raw))
        return tuple(medians)  # type: ignore[return-value]
    finally:
        await db.dispose()


def main() -> None:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        ours, cached, theirs, raw = asyncio.run(measure(url))
    print("access-token verifications per second (median of 3, one core)")
    print(f"  TokenService.verify_access, EdDSA, no cache {ours:>10,.0f} /s")
    print(f"  TokenService.verify_access, cached (ours)   {cached:>10,.0f} /s")
    print(f"  PyJWT decode, HS256 shared secret (seeds')  {theirs:>10,.0f} /s")
    print(f"  ratio no cache/seeds'                       {ours / theirs:>10.2f}x")
    print(f"  ratio cached/seeds'                         {cached / theirs:>10.2f}x")
    print(f"  for reference: PyJWT decode, EdDSA alone    {raw:>10,.0f} /s")


if __name__ == "__main__":
    main()
