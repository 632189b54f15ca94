import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from lensguard.errors import RateLimited
from lensguard.identity.throttle import (
    ACCOUNT,
    ADDRESS,
    MAX_LOCK,
    PAIR,
    LoginThrottle,
    lock_seconds,
)
from lensguard.store.kv import MemoryStore, RedisStore


@pytest.fixture(params=["memory", "redis"])
async def throttle(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[LoginThrottle]:
    if request.param == "memory":
        yield LoginThrottle(MemoryStore())
        return
    client = Redis.from_url(redis_url)
    try:
        yield LoginThrottle(RedisStore(client, prefix=f"lg-test:{uuid.uuid4().hex}:"))
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [
        (0, 0),
        (PAIR.threshold - 1, 0),
        (PAIR.threshold, 1),
        (PAIR.threshold + 1, 2),
        (PAIR.threshold + 4, 16),
        (PAIR.threshold + 40, MAX_LOCK),
    ],
)
def test_lock_grows_and_is_capped(failures: int, seconds: int) -> None:
    assert lock_seconds(failures, PAIR) == seconds


async def test_pair_locks_after_threshold(throttle: LoginThrottle) -> None:
    for _ in range(PAIR.threshold):
        await throttle.check("Ada", "192.0.2.1")
        await throttle.failed("Ada", "192.0.2.1")
    with pytest.raises(RateLimited) as raised:
        await throttle.check("ada", "192.0.2.1")  # usernames compare case-insensitively
    assert raised.value.retry_after >= 1
    await throttle.check("ada", "192.0.2.2")  # another address is not locked


async def test_address_spraying_many_accounts_locks_the_address(throttle: LoginThrottle) -> None:
    for i in range(ADDRESS.threshold):
        await throttle.failed(f"user{i}", "192.0.2.9")
    with pytest.raises(RateLimited):
        await throttle.check("fresh-user", "192.0.2.9")


async def test_success_clears_pair(throttle: LoginThrottle) -> None:
    for _ in range(PAIR.threshold):
        await throttle.failed("ada", "192.0.2.1")
    await throttle.succeeded("ada", "192.0.2.1")
    await throttle.check("ada", "192.0.2.1")


async def test_account_lock_across_addresses(throttle: LoginThrottle) -> None:
    # Fewer failures per address than the pair threshold, from ever new addresses.
    for i in range(ACCOUNT.threshold):
        assert await throttle.account_locked("ada") is None
        await throttle.check("ada", f"192.0.2.{i}")
        await throttle.failed("Ada", f"192.0.2.{i}")
    locked = await throttle.account_locked("ada")
    assert locked is not None and locked >= 1
    assert await throttle.account_locked("bob") is None
    # A fresh address is not pair- or address-locked: the account lock is the caller's to apply.
    await throttle.check("ada", "198.51.100.1")


async def test_success_leaves_the_account_count() -> None:
    throttle = LoginThrottle(MemoryStore())
    for i in range(ACCOUNT.threshold - 1):
        await throttle.failed("ada", f"192.0.2.{i}")
    await throttle.succeeded("ada", "198.51.100.1")
    await throttle.failed("ada", "203.0.113.1")
    assert await throttle.account_locked("ada") is not None


async def test_account_lock_ends_at_most_max_lock_after_the_last_failure() -> None:
    now = [1000.0]
    throttle = LoginThrottle(MemoryStore(clock=lambda: now[0]))
    # Far past the threshold: each further failure locks for the full cap, no longer.
    for i in range(ACCOUNT.threshold + 30):
        await throttle.failed("admin", f"192.0.2.{i}")
    remaining = await throttle.account_locked("admin")
    assert remaining == MAX_LOCK
    now[0] += MAX_LOCK - 1
    assert await throttle.account_locked("admin") is not None
    now[0] += 2
    assert await throttle.account_locked("admin") is None
    # One more failure within the window locks again, still for at most the cap.
    await throttle.failed("admin", "192.0.2.250")
    assert await throttle.account_locked("admin") == MAX_LOCK
