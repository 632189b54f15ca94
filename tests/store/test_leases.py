"""Leases, in memory and on a real Redis: one holder at a time, deadlines on the given clock."""

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from lensguard.clock import ManualClock
from lensguard.store.leases import Claim, Leases, MemoryLeases, RedisLeases

LEASE = 15.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture(params=["memory", "redis"])
async def leases(
    request: pytest.FixtureRequest, redis_url: str, clock: ManualClock
) -> AsyncIterator[Leases]:
    if request.param == "memory":
        yield MemoryLeases(clock=clock.time)
        return
    client = Redis.from_url(redis_url)
    try:
        yield RedisLeases(client, clock=clock.time, prefix=f"lg-test:{uuid.uuid4().hex}:")
    finally:
        await client.aclose()


async def test_one_holder_at_a_time(leases: Leases) -> None:
    assert (await leases.claim("d", "alice", lease=LEASE)).outcome is Claim.ACQUIRED
    refused = await leases.claim("d", "bob", lease=LEASE)
    assert (refused.outcome, refused.holder) == (Claim.REFUSED, "alice")
    assert (await leases.claim("d", "alice", lease=LEASE)).outcome is Claim.RENEWED
    assert await leases.holder("d") == "alice"
    assert await leases.holder("other") is None


async def test_release_is_the_holders_only(leases: Leases) -> None:
    await leases.claim("d", "alice", lease=LEASE)
    assert await leases.release("d", "bob") is False
    assert await leases.holder("d") == "alice"
    assert await leases.release("d", "alice") is True
    assert await leases.holder("d") is None
    assert await leases.release("d", "alice") is False
    assert (await leases.claim("d", "bob", lease=LEASE)).outcome is Claim.ACQUIRED


async def test_an_idle_lease_ends_at_its_deadline_and_renewal_moves_it(
    leases: Leases, clock: ManualClock
) -> None:
    await leases.claim("d", "alice", lease=LEASE)
    await clock.advance(10)
    assert await leases.renew("d", "alice", lease=LEASE) is True
    assert await leases.renew("d", "bob", lease=LEASE) is False
    await clock.advance(14.9)
    assert await leases.holder("d") == "alice"
    assert await leases.expire("d", "alice") == pytest.approx(0.1, abs=0.01)
    await clock.advance(0.1)
    assert await leases.holder("d") is None
    assert await leases.renew("d", "alice", lease=LEASE) is False
    assert (await leases.claim("d", "bob", lease=LEASE)).outcome is Claim.ACQUIRED


async def test_expire_ends_only_a_due_lease_of_that_holder(
    leases: Leases, clock: ManualClock
) -> None:
    await leases.claim("d", "alice", lease=LEASE)
    assert await leases.expire("d", "bob") is None
    await clock.advance(LEASE)
    assert await leases.expire("d", "alice") == 0
    assert await leases.expire("d", "alice") is None  # already gone
    assert await leases.release("d", "alice") is False
    await leases.claim("d", "bob", lease=LEASE)
    assert await leases.expire("d", "alice") is None
    assert await leases.holder("d") == "bob"


async def test_take_replaces_any_holder_and_names_the_previous(
    leases: Leases, clock: ManualClock
) -> None:
    assert await leases.take("d", "root", lease=LEASE) is None
    assert await leases.take("d", "admin", lease=LEASE) == "root"
    assert (await leases.claim("d", "root", lease=LEASE)).holder == "admin"
    await clock.advance(LEASE)
    assert await leases.take("d", "root", lease=LEASE) is None  # the idle one had ended
