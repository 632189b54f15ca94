"""Fixed-window rate limiting with two stores: in-process and Redis (shared by nodes)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one hit: allowed or not, and when to come back."""

    allowed: bool
    count: int
    retry_after: int


class RateLimiter(Protocol):
    """Counts hits per key in windows of ``window`` seconds."""

    async def hit(self, key: str, *, limit: int, window: int) -> Decision:
        """Record one hit on ``key``; refused once more than ``limit`` fall in the window."""
        ...

    async def reset(self, key: str) -> None:
        """Forget every hit on ``key``."""
        ...


class MemoryRateLimiter:
    """The embedded store: a dict of current windows, pruned as it grows."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._windows: dict[str, tuple[int, int, int]] = {}  # key -> (window, size, count)
        self._max_keys = max_keys
        self._clock = clock

    def __len__(self) -> int:
        return len(self._windows)

    async def hit(self, key: str, *, limit: int, window: int) -> Decision:
        now = self._clock()
        current = int(now // window)
        seen_window, _, count = self._windows.get(key, (current, 0, 0))
        count = count + 1 if seen_window == current else 1
        if len(self._windows) >= self._max_keys and key not in self._windows:
            self._prune(now)
        self._windows[key] = (current, window, count)
        retry = math.ceil((current + 1) * window - now)
        return Decision(allowed=count <= limit, count=count, retry_after=max(1, retry))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _prune(self, now: float) -> None:
        stale = [k for k, (w, size, _) in self._windows.items() if w != int(now // size)]
        for k in stale:
            del self._windows[k]


_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}
"""


class RedisRateLimiter:
    """The cluster store: one counter per key and window, expiring with the window."""

    def __init__(
        self, redis: Redis, *, prefix: str = "lg:rl:", clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._script = redis.register_script(_HIT)

    async def hit(self, key: str, *, limit: int, window: int) -> Decision:
        current = int(self._clock() // window)
        result = await self._script(keys=[f"{self._prefix}{key}:{current}"], args=[window])
        count, ttl = int(result[0]), int(result[1])
        return Decision(allowed=count <= limit, count=count, retry_after=max(1, ttl))

    async def reset(self, key: str) -> None:
        keys = [k async for k in self._redis.scan_iter(match=f"{self._prefix}{key}:*")]
        if keys:
            await self._redis.delete(*keys)
