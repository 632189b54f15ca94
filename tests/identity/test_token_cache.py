"""Verified access tokens kept until they expire: a hit skips the signature, never a check."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from lensguard.identity.signing_keys import KEY_CACHE_SECONDS
from lensguard.identity.token_cache import VerifiedTokens
from lensguard.identity.tokens import LEEWAY, InvalidToken, TokenService
from lensguard.store.db import Database
from lensguard.store.models import SigningKey
from tests.identity.test_tokens import signing_key_queries
from tests.identity.token_support import (
    AUDIENCE,
    ISSUER,
    LIFETIME,
    WRAP_KEY,
    FakeClock,
    make_service,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(db: Database, clock: FakeClock) -> TokenService:
    return make_service(db, clock)


async def token(service: TokenService, subject: str = "u") -> str:
    issued = await service.issue_access(subject=subject, session_id="s", principal_kind="user")
    return issued.token


async def refused(service: TokenService, value: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await service.verify_access(value)
    return caught.value.reason


async def test_a_second_verification_is_a_hit_and_reads_nothing(
    db: Database, service: TokenService
) -> None:
    value = await token(service)
    first = await service.verify_access(value)
    with signing_key_queries(db) as queries:
        second = await service.verify_access(value)
    assert second == first and queries == []
    assert (service.verified.hits, service.verified.misses, len(service.verified)) == (1, 1, 1)


async def test_a_token_one_byte_off_is_verified_in_full(service: TokenService) -> None:
    value = await token(service)
    await service.verify_access(value)
    head, body, signature = value.split(".")
    flipped = "A" if signature[5] != "A" else "B"
    forged = f"{head}.{body}.{signature[:5]}{flipped}{signature[6:]}"
    assert await refused(service, forged) == "bad signature"
    assert len(service.verified) == 1  # a refused token is never kept


async def test_a_cached_token_expires_on_the_services_clock(
    service: TokenService, clock: FakeClock
) -> None:
    value = await token(service)
    await service.verify_access(value)
    clock.advance(LIFETIME + LEEWAY - 1)
    assert (await service.verify_access(value)).subject == "u"
    clock.advance(1)
    assert await refused(service, value) == "expired"
    assert len(service.verified) == 0


async def test_a_key_no_longer_published_ends_its_cached_tokens(
    db: Database, service: TokenService, clock: FakeClock
) -> None:
    value = await token(service)
    await service.verify_access(value)
    await service.rotate()
    # Still published for the life of its last token: the cached token stays good ...
    clock.advance(KEY_CACHE_SECONDS + 1)
    assert (await service.verify_access(value)).subject == "u"
    # ... until the key goes (here as an operator removing a compromised key would):
    # the next reload of the key ring refuses the cached token, long before it expires.
    kid = (await service.verify_access(value)).kid
    async with db.transaction() as session:
        await session.execute(delete(SigningKey).where(SigningKey.kid == kid))
    clock.advance(KEY_CACHE_SECONDS + 1)
    assert "unpublished" in await refused(service, value)
    assert len(service.verified) == 0


async def test_the_cache_is_bounded_least_recently_used_first_out(
    db: Database, clock: FakeClock
) -> None:
    service = TokenService(
        db,
        wrap_key=WRAP_KEY,
        issuer=ISSUER,
        audience=AUDIENCE,
        lifetime=LIFETIME,
        clock=clock,
        cache_entries=3,
    )
    values = [await token(service, f"u{i}") for i in range(5)]
    for value in values:
        await service.verify_access(value)
    assert len(service.verified) == 3
    await service.verify_access(values[0])  # evicted: verified in full again
    assert (service.verified.hits, service.verified.misses) == (0, 6)
    await service.verify_access(values[4])
    assert service.verified.hits == 1


async def test_zero_entries_verifies_every_time(db: Database, clock: FakeClock) -> None:
    service = TokenService(
        db,
        wrap_key=WRAP_KEY,
        issuer=ISSUER,
        audience=AUDIENCE,
        lifetime=LIFETIME,
        clock=clock,
        cache_entries=0,
    )
    value = await token(service)
    for _ in range(3):
        await service.verify_access(value)
    assert (len(service.verified), service.verified.hits) == (0, 0)
    with pytest.raises(ValueError, match="negative"):
        VerifiedTokens(-1)
