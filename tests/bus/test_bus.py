"""Both buses against the real thing: same behaviour, cross-node delivery on Redis."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from lensguard.bus.base import MAX_MESSAGE_BYTES, Bus, BusError, Subscription
from lensguard.bus.memory import MemoryBus
from lensguard.bus.redis import RedisBus
from tests.harness.ports import free_port


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Bus]:
    if request.param == "memory":
        memory = MemoryBus()
        yield memory
        await memory.close()
        return
    client = Redis.from_url(redis_url)
    redis_bus = RedisBus(client, prefix=f"lg-test:{uuid.uuid4().hex}:")
    try:
        yield redis_bus
    finally:
        await redis_bus.close()
        await client.aclose()


async def take(sub: Subscription, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    async def collect() -> None:
        async for message in sub:
            out.append(message)
            if len(out) == n:
                return

    await asyncio.wait_for(collect(), timeout=5)
    return out


async def test_messages_arrive_in_order(bus: Bus) -> None:
    sub = await bus.subscribe("device:1")
    for i in range(100):
        await bus.publish("device:1", {"type": "offer", "seq": i})
    got = await take(sub, 100)
    assert [m["seq"] for m in got] == list(range(100))
    await sub.close()


async def test_channels_are_separate_and_fan_out(bus: Bus) -> None:
    a1, a2, b = await bus.subscribe("a"), await bus.subscribe("a"), await bus.subscribe("b")
    await bus.publish("a", {"n": 1})
    await bus.publish("b", {"n": 2})
    assert await take(a1, 1) == [{"n": 1}]
    assert await take(a2, 1) == [{"n": 1}]
    assert await take(b, 1) == [{"n": 2}]
    for sub in (a1, a2, b):
        await sub.close()


async def test_oversized_messages_are_refused(bus: Bus) -> None:
    with pytest.raises(ValueError, match="exceeds"):
        await bus.publish("a", {"sdp": "x" * MAX_MESSAGE_BYTES})


async def test_closed_subscription_ends_iteration(bus: Bus) -> None:
    sub = await bus.subscribe("a")
    await sub.close()
    received = await asyncio.wait_for(_drain(sub), timeout=5)
    assert received == []
    await sub.close()  # closing twice is harmless


async def _drain(sub: Subscription) -> list[dict[str, Any]]:
    return [message async for message in sub]


async def test_redis_bus_crosses_nodes(redis_url: str) -> None:
    prefix = f"lg-test:{uuid.uuid4().hex}:"
    a, b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    node_a, node_b = RedisBus(a, prefix=prefix), RedisBus(b, prefix=prefix)
    try:
        sub = await node_b.subscribe("device:robot")
        receivers = await node_a.publish("device:robot", {"type": "control", "command": "stop"})
        assert receivers == 1
        assert await take(sub, 1) == [{"type": "control", "command": "stop"}]
    finally:
        await node_a.close()
        await node_b.close()
        await a.aclose()
        await b.aclose()


async def test_unreachable_redis_is_a_bus_error() -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    bus = RedisBus(client)
    try:
        with pytest.raises(BusError):
            await bus.publish("a", {"n": 1})
        with pytest.raises(BusError):
            await bus.subscribe("a")
    finally:
        await client.aclose()


async def test_slow_subscriber_drops_oldest_without_blocking_publisher() -> None:
    bus = MemoryBus()
    sub = await bus.subscribe("a")
    for i in range(1100):
        await bus.publish("a", {"seq": i})
    got = await take(sub, 1024)
    assert got[0]["seq"] == 1100 - 1024 and got[-1]["seq"] == 1099
    assert sub.dropped == 1100 - 1024
    await bus.close()
