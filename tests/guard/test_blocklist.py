"""The blocklist stores: the same behaviour in memory and in real Redis."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from lensguard.guard.blocklist import (
    MAX_RANGES,
    BlockEntry,
    Blocklist,
    BlocklistFull,
    MemoryBlocklist,
    ProtectedAddress,
    parse_target,
)
from lensguard.guard.blocklist_file import FileBlocklist
from lensguard.guard.blocklist_redis import RedisBlocklist
from lensguard.guard.client import parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8:ffff::1"])


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "file", "redis"])
async def blocklist(
    request: pytest.FixtureRequest, redis_url: str, tmp_path: Path
) -> AsyncIterator[Blocklist]:
    if request.param == "memory":
        yield MemoryBlocklist(protected=PROXIES)
        return
    if request.param == "file":
        yield FileBlocklist(tmp_path / "blocklist.jsonl", protected=PROXIES)
        return
    client = Redis.from_url(redis_url)
    try:
        yield RedisBlocklist(client, protected=PROXIES, prefix=f"lg-test:{uuid.uuid4().hex}:")
    finally:
        await client.aclose()


async def test_blocked_address_is_reported_with_its_reason(blocklist: Blocklist) -> None:
    entry = await blocklist.block("203.0.113.7", ttl=None, reason="manual")
    found = await blocklist.is_blocked("203.0.113.7")
    assert found == entry
    assert (found.target, found.reason, found.expires_at) == ("203.0.113.7", "manual", None)
    assert await blocklist.is_blocked("203.0.113.8") is None


async def test_range_blocks_every_address_inside_it(blocklist: Blocklist) -> None:
    await blocklist.block("198.51.100.0/24", ttl=600, reason="scanner")
    hit = await blocklist.is_blocked("198.51.100.200")
    assert hit is not None and hit.target == "198.51.100.0/24"
    assert await blocklist.is_blocked("198.51.101.1") is None
    await blocklist.block("2001:db8:aaaa::/48", ttl=None, reason="v6")
    assert await blocklist.is_blocked("2001:db8:aaaa:1::5") is not None
    assert await blocklist.is_blocked("2001:db8:aaab::5") is None


async def test_unblock_lifts_the_block(blocklist: Blocklist) -> None:
    await blocklist.block("203.0.113.7", ttl=None, reason="manual")
    await blocklist.block("198.51.100.0/24", ttl=None, reason="manual")
    assert await blocklist.unblock("203.0.113.7") is True
    assert await blocklist.unblock("198.51.100.0/24") is True
    assert await blocklist.is_blocked("203.0.113.7") is None
    assert await blocklist.is_blocked("198.51.100.1") is None
    assert await blocklist.unblock("203.0.113.7") is False


async def test_list_holds_addresses_and_ranges(blocklist: Blocklist) -> None:
    await blocklist.block("203.0.113.7", ttl=60, reason="a")
    await blocklist.block("2001:DB8::1", ttl=None, reason="b")
    await blocklist.block("198.51.100.0/24", ttl=None, reason="c")
    listed = {e.target: e.reason for e in await blocklist.list()}
    assert listed == {"203.0.113.7": "a", "2001:db8::1": "b", "198.51.100.0/24": "c"}


async def test_ipv4_mapped_addresses_match_ipv4_blocks(blocklist: Blocklist) -> None:
    await blocklist.block("::ffff:203.0.113.7", ttl=None, reason="mapped")
    assert (await blocklist.list())[0].target == "203.0.113.7"
    assert await blocklist.is_blocked("::ffff:203.0.113.7") is not None
    assert await blocklist.is_blocked("203.0.113.7") is not None


async def test_non_addresses_are_never_blocked(blocklist: Blocklist) -> None:
    await blocklist.block("203.0.113.7", ttl=None, reason="x")
    assert await blocklist.is_blocked("testclient") is None
    assert await blocklist.is_blocked("") is None


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("10.1.2.3", "10.1.2.3 would block trusted proxy 10.0.0.0/8"),
        ("10.0.0.0/16", "10.0.0.0/16 would block trusted proxy 10.0.0.0/8"),
        ("8.0.0.0/6", "8.0.0.0/6 would block trusted proxy 10.0.0.0/8"),
        ("2001:db8:ffff::/64", "2001:db8:ffff::/64 would block trusted proxy 2001:db8:ffff::1/128"),
    ],
)
async def test_trusted_proxies_cannot_be_blocked(
    blocklist: Blocklist, target: str, message: str
) -> None:
    with pytest.raises(ProtectedAddress) as caught:
        await blocklist.block(target, ttl=None, reason="oops")
    assert str(caught.value) == message
    assert await blocklist.list() == []


@pytest.mark.parametrize("junk", ["not-an-ip", "203.0.113.7/24", "300.1.1.1", "1.2.3.4/33", ""])
async def test_junk_targets_are_refused(blocklist: Blocklist, junk: str) -> None:
    with pytest.raises(ValueError):
        await blocklist.block(junk, ttl=None, reason="x")


async def test_zero_ttl_is_refused(blocklist: Blocklist) -> None:
    with pytest.raises(ValueError, match="at least one second"):
        await blocklist.block("203.0.113.7", ttl=0, reason="x")


async def test_memory_blocks_expire_on_the_clock() -> None:
    clock = Clock()
    blocklist = MemoryBlocklist(clock=clock)
    await blocklist.block("203.0.113.7", ttl=30, reason="short")
    await blocklist.block("198.51.100.0/24", ttl=60, reason="range")
    await blocklist.block("192.0.2.1", ttl=None, reason="forever")
    clock.now += 29
    assert await blocklist.is_blocked("203.0.113.7") is not None
    clock.now += 1
    assert await blocklist.is_blocked("203.0.113.7") is None
    assert await blocklist.is_blocked("198.51.100.9") is not None
    clock.now += 30
    assert await blocklist.is_blocked("198.51.100.9") is None
    clock.now += 10 * 365 * 86_400
    assert [e.target for e in await blocklist.list()] == ["192.0.2.1"]


async def test_memory_store_refuses_more_than_its_cap_unless_some_expired() -> None:
    clock = Clock()
    blocklist = MemoryBlocklist(clock=clock, max_addresses=2)
    await blocklist.block("192.0.2.1", ttl=10, reason="x")
    await blocklist.block("192.0.2.2", ttl=None, reason="x")
    with pytest.raises(BlocklistFull):
        await blocklist.block("192.0.2.3", ttl=None, reason="x")
    clock.now += 10
    await blocklist.block("192.0.2.3", ttl=None, reason="x")
    assert {e.target for e in await blocklist.list()} == {"192.0.2.2", "192.0.2.3"}


async def test_memory_range_count_is_capped() -> None:
    blocklist = MemoryBlocklist()
    for i in range(MAX_RANGES):
        await blocklist.block(f"10.{i // 256}.{i % 256}.0/24", ttl=None, reason="x")
    with pytest.raises(BlocklistFull):
        await blocklist.block("192.0.2.0/24", ttl=None, reason="x")


async def test_redis_address_block_expires_with_its_key(redis_client: Redis) -> None:
    clock = Clock()
    prefix = f"lg-test:{uuid.uuid4().hex}:"
    blocklist = RedisBlocklist(redis_client, prefix=prefix, clock=clock)
    await blocklist.block("203.0.113.7", ttl=1, reason="short")
    assert await blocklist.is_blocked("203.0.113.7") is not None
    assert 0 < await redis_client.pttl(f"{prefix}ip:203.0.113.7") <= 1000  # Redis drops it
    clock.now += 0.999
    assert await blocklist.is_blocked("203.0.113.7") is not None
    clock.now += 0.001
    assert await blocklist.is_blocked("203.0.113.7") is None
    assert await blocklist.list() == []


async def test_redis_expired_ranges_are_ignored_and_removed(redis_client: Redis) -> None:
    clock = Clock()
    prefix = f"lg-test:{uuid.uuid4().hex}:"
    blocklist = RedisBlocklist(redis_client, prefix=prefix, clock=clock)
    await blocklist.block("198.51.100.0/24", ttl=60, reason="range")
    assert await blocklist.is_blocked("198.51.100.1") is not None
    clock.now += 60
    assert await blocklist.is_blocked("198.51.100.1") is None
    assert await redis_client.hlen(f"{prefix}ranges") == 0


async def test_two_redis_nodes_see_each_others_blocks(redis_url: str) -> None:
    prefix = f"lg-test:{uuid.uuid4().hex}:"
    clock = Clock()
    a, b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        node_a = RedisBlocklist(a, prefix=prefix, clock=clock, refresh_seconds=5)
        node_b = RedisBlocklist(b, prefix=prefix, clock=clock, refresh_seconds=5)
        assert await node_b.is_blocked("198.51.100.1") is None  # node b caches "no ranges"
        await node_a.block("203.0.113.7", ttl=60, reason="manual")
        await node_a.block("198.51.100.0/24", ttl=None, reason="manual")
        # Exact addresses are read on every request: at once.
        assert await node_b.is_blocked("203.0.113.7") is not None
        # Ranges: within refresh_seconds.
        assert await node_b.is_blocked("198.51.100.1") is None
        clock.now += 5
        assert await node_b.is_blocked("198.51.100.1") is not None
        assert {e.target for e in await node_b.list()} == {"203.0.113.7", "198.51.100.0/24"}
        await node_b.unblock("203.0.113.7")
        assert await node_a.is_blocked("203.0.113.7") is None
    finally:
        await a.aclose()
        await b.aclose()


async def test_redis_skips_unreadable_entries(redis_client: Redis) -> None:
    prefix = f"lg-test:{uuid.uuid4().hex}:"
    blocklist = RedisBlocklist(redis_client, prefix=prefix)
    await redis_client.set(f"{prefix}ip:203.0.113.7", "not json")
    await redis_client.hset(f"{prefix}ranges", "198.51.100.0/24", "{}")
    assert await blocklist.is_blocked("203.0.113.7") is None
    assert await blocklist.is_blocked("198.51.100.1") is None
    assert await blocklist.list() == []


def test_entry_round_trips_through_its_stored_form() -> None:
    entry = BlockEntry("198.51.100.0/24", "x", created_at=1.5, expires_at=61.5)
    assert BlockEntry.from_json(entry.to_json()) == entry
    assert entry.is_range and not BlockEntry("192.0.2.1", "x", 1.0).is_range


def test_single_host_networks_become_plain_addresses() -> None:
    assert str(parse_target("203.0.113.7/32")) == "203.0.113.7/32"
    assert parse_target("::ffff:203.0.113.7").version == 4
