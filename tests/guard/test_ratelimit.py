import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from lensguard.guard.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    client = Redis.from_url(redis_url)
    try:
        yield RedisRateLimiter(client, prefix=f"lg-test:{uuid.uuid4().hex}:")
    finally:
        await client.aclose()


async def test_allows_up_to_limit_then_refuses(limiter: RateLimiter) -> None:
    decisions = [await limiter.hit("k", limit=3, window=60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4, 5]
    assert all(1 <= d.retry_after <= 60 for d in decisions)


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    await limiter.hit("a", limit=1, window=60)
    assert not (await limiter.hit("a", limit=1, window=60)).allowed
    assert (await limiter.hit("b", limit=1, window=60)).allowed


async def test_reset_forgets(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("k", limit=1, window=60)
    await limiter.reset("k")
    assert (await limiter.hit("k", limit=1, window=60)).allowed


async def test_redis_limit_is_shared_between_clients(redis_url: str) -> None:
    prefix = f"lg-test:{uuid.uuid4().hex}:"
    a, b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        node_a, node_b = RedisRateLimiter(a, prefix=prefix), RedisRateLimiter(b, prefix=prefix)
        assert (await node_a.hit("ip:1", limit=2, window=60)).allowed
        assert (await node_b.hit("ip:1", limit=2, window=60)).allowed
        assert not (await node_a.hit("ip:1", limit=2, window=60)).allowed
    finally:
        await a.aclose()
        await b.aclose()


async def test_memory_limiter_prunes_expired_windows_when_full() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(max_keys=10, clock=lambda: now[0])
    for i in range(10):
        await limiter.hit(f"old{i}", limit=1, window=1)
    assert len(limiter) == 10
    now[0] += 5
    await limiter.hit("new", limit=1, window=1)
    assert len(limiter) == 1
    # A key whose window passed starts counting afresh.
    assert (await limiter.hit("new", limit=1, window=1)).allowed is False
    now[0] += 1
    assert (await limiter.hit("new", limit=1, window=1)).allowed is True
