"""Both revocation stores against the real thing; unreachable stores fail closed."""

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from lensguard.errors import ServiceUnavailable
from lensguard.identity.revocation import (
    DatabaseRevocationStore,
    RedisRevocationStore,
    RevocationStore,
    session_key,
    token_key,
)
from lensguard.store.db import Database
from tests.harness.ports import free_port


@pytest.fixture(params=["database", "redis"])
async def store(
    request: pytest.FixtureRequest, db: Database, redis_url: str
) -> AsyncIterator[RevocationStore]:
    if request.param == "database":
        yield DatabaseRevocationStore(db)
        return
    client = Redis.from_url(redis_url)
    try:
        yield RedisRevocationStore(client, prefix=f"lg-test:{uuid.uuid4().hex}:")
    finally:
        await client.aclose()


async def test_revoked_keys_are_found(store: RevocationStore) -> None:
    assert not await store.any_revoked([session_key("s1"), token_key("j1")])
    await store.revoke(session_key("s1"), ttl=60)
    assert await store.any_revoked([token_key("j1"), session_key("s1")])
    assert not await store.any_revoked([session_key("s2")])
    assert not await store.any_revoked([])


async def test_revoking_twice_is_harmless(store: RevocationStore) -> None:
    await store.revoke(token_key("j1"), ttl=60)
    await store.revoke(token_key("j1"), ttl=120)
    assert await store.any_revoked([token_key("j1")])


async def test_unreachable_redis_fails_closed() -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        with pytest.raises(ServiceUnavailable):
            await RedisRevocationStore(client).any_revoked([session_key("s1")])
    finally:
        await client.aclose()


async def test_unreachable_database_fails_closed(tmp_path: object) -> None:
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    try:
        with pytest.raises(ServiceUnavailable):
            await DatabaseRevocationStore(db).any_revoked([session_key("s1")])
    finally:
        await db.dispose()
