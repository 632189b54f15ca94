"""Windows for the threat tests: in memory, and on the session's real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from lensguard.threats.windows import MemoryWindows, RedisWindows, Windows


@pytest.fixture(params=["memory", "redis"])
async def windows(request: pytest.FixtureRequest) -> AsyncIterator[Windows]:
    """Each test runs on both: embedded mode's windows and the cluster's."""
    if request.param == "memory":
        yield MemoryWindows()
        return
    client = Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"lg-test:{uuid.uuid4().hex}:"
    try:
        yield RedisWindows(client, prefix=prefix)
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
