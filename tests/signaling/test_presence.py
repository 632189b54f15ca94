"""Device presence records against the memory store and real Redis; expiry on a test clock."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from lensguard.signaling.presence import TTL, Presence, presence_key
from lensguard.store.kv import ExpiringStore, MemoryStore, RedisStore


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[ExpiringStore]:
    """One store as every node of a cluster sees it."""
    if request.param == "memory":
        yield MemoryStore()
        return
    client = Redis.from_url(redis_url)
    try:
        yield RedisStore(client, prefix=f"lg-test:{uuid.uuid4().hex}:")
    finally:
        await client.aclose()


class Beats:
    """A sleep the test ends one beat at a time, so the heartbeat runs without waiting."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._asleep = asyncio.Event()
        self._release = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        self._asleep.set()
        await self._release.wait()
        self._release.clear()

    async def next(self) -> None:
        """End the current sleep and return once the loop refreshed and sleeps again."""
        await self._asleep.wait()
        self._asleep.clear()
        self._release.set()
        await asyncio.wait_for(self._asleep.wait(), 5)


async def test_arrive_then_leave(store: ExpiringStore) -> None:
    presence = Presence(store)
    assert await presence.online(["dev-1", "dev-2"]) == set()
    await presence.arrive("dev-1", "conn-a")
    assert await presence.online(["dev-1", "dev-2"]) == {"dev-1"}
    assert await store.get(presence_key("dev-1")) == "conn-a"
    assert await store.ttl(presence_key("dev-1")) == TTL
    assert await presence.leave("dev-1", "conn-a") is True
    assert await presence.online(["dev-1"]) == set()
    assert await presence.leave("dev-1", "conn-a") is False


async def test_leaving_keeps_a_reconnect_through_another_node(store: ExpiringStore) -> None:
    node_a, node_b = Presence(store), Presence(store)
    await node_a.arrive("dev-1", "conn-a")
    await node_b.arrive("dev-1", "conn-b")  # the device came back through node B first
    assert await node_a.leave("dev-1", "conn-a") is False
    assert await node_a.online(["dev-1"]) == {"dev-1"}
    assert await store.get(presence_key("dev-1")) == "conn-b"


async def test_get_many_keeps_order_and_reports_absent_keys(store: ExpiringStore) -> None:
    await store.set("k1", "one", ttl=60)
    await store.set("k3", "three", ttl=60)
    assert await store.get_many(["k3", "k2", "k1"]) == ["three", None, "one"]
    assert await store.get_many([]) == []
    assert await store.get("k2") is None


async def test_delete_if_removes_only_the_expected_value(store: ExpiringStore) -> None:
    await store.set("k", "mine", ttl=60)
    assert await store.delete_if("k", "theirs") is False
    assert await store.get("k") == "mine"
    assert await store.delete_if("k", "mine") is True
    assert await store.get("k") is None
    assert await store.delete_if("absent", "mine") is False


async def test_record_expires_after_ttl_without_a_refresh() -> None:
    now = [1000.0]
    presence = Presence(MemoryStore(clock=lambda: now[0]))
    await presence.arrive("dev-1", "conn-a")
    now[0] += TTL - 1
    assert await presence.online(["dev-1"]) == {"dev-1"}
    now[0] += 1
    assert await presence.online(["dev-1"]) == set()


async def test_heartbeat_keeps_the_device_online_until_the_attendance_ends() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    beats = Beats()
    presence = Presence(store, sleep=beats)
    attendance = await presence.attend("dev-1", "conn-a")
    assert attendance.beating
    for _ in range(4):  # four beats span well over one ttl
        now[0] += presence.interval
        await beats.next()
        assert await presence.online(["dev-1"]) == {"dev-1"}
    assert beats.asked == [TTL / 3] * 5
    await attendance.end()
    assert not attendance.beating
    assert await presence.online(["dev-1"]) == set()


async def test_a_stopped_heartbeat_lets_the_record_expire() -> None:
    now = [1000.0]
    beats = Beats()
    presence = Presence(MemoryStore(clock=lambda: now[0]), sleep=beats)
    attendance = await presence.attend("dev-1", "conn-a")
    now[0] += presence.interval
    await beats.next()  # refreshed at 1010: lives until 1040
    now[0] = 1000.0 + presence.interval + TTL
    assert await presence.online(["dev-1"]) == set()
    await attendance.end()


async def test_ending_an_attendance_leaves_a_newer_connection_alone() -> None:
    store = MemoryStore()
    old = await Presence(store, sleep=Beats()).attend("dev-1", "conn-a")
    new = await Presence(store, sleep=Beats()).attend("dev-1", "conn-b")
    await old.end()
    assert await store.get(presence_key("dev-1")) == "conn-b"
    await new.end()
    assert await store.get(presence_key("dev-1")) is None


async def test_ttl_too_short_for_three_beats_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3 seconds"):
        Presence(MemoryStore(), ttl=2)
