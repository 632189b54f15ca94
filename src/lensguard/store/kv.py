"""Small expiring key-value stores: in-process (embedded) and Redis (cluster).

Used for counters, locks and flags that may be lost on restart (login throttling,
device presence); durable security state (revocations) lives in the database or Redis instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from redis.asyncio import Redis


class ExpiringStore(Protocol):
    """Counters and flags that expire after ``ttl`` seconds."""

    async def incr(self, key: str, *, ttl: int) -> int:
        """Add one to ``key`` (created at 0 with ``ttl``); the new value."""
        ...

    async def set(self, key: str, value: str, *, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds."""
        ...

    async def ttl(self, key: str) -> int | None:
        """Seconds until ``key`` expires, or None when absent."""
        ...

    async def get(self, key: str) -> str | None:
        """The value under ``key``, or None when absent or expired."""
        ...

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """The values under ``keys``, in order (None for each absent one)."""
        ...

    async def delete(self, *keys: str) -> None:
        """Remove ``keys``."""
        ...

    async def delete_if(self, key: str, value: str) -> bool:
        """Remove ``key`` only while it still holds ``value`` (atomically); whether it did."""
        ...


class MemoryStore:
    """The embedded store: a dict with expiry times, swept as it grows."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 200_000):
        self._data: dict[str, tuple[str, float]] = {}
        self._clock = clock
        self._max_keys = max_keys

    def _live(self, key: str) -> tuple[str, float] | None:
        entry = self._data.get(key)
        if entry is not None and entry[1] <= self._clock():
            del self._data[key]
            return None
        return entry

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, (_, exp) in self._data.items() if exp <= now]:
            del self._data[key]

    async def incr(self, key: str, *, ttl: int) -> int:
        entry = self._live(key)
        if entry is None:
            if len(self._data) >= self._max_keys:
                self._sweep()
            entry = ("0", self._clock() + ttl)
        value = int(entry[0]) + 1
        self._data[key] = (str(value), entry[1])
        return value

    async def set(self, key: str, value: str, *, ttl: int) -> None:
        if len(self._data) >= self._max_keys:
            self._sweep()
        self._data[key] = (value, self._clock() + ttl)

    async def ttl(self, key: str) -> int | None:
        entry = self._live(key)
        return None if entry is None else max(1, round(entry[1] - self._clock()))

    async def get(self, key: str) -> str | None:
        entry = self._live(key)
        return None if entry is None else entry[0]

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        return [await self.get(key) for key in keys]

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)

    async def delete_if(self, key: str, value: str) -> bool:
        entry = self._live(key)
        if entry is None or entry[0] != value:
            return False
        del self._data[key]
        return True


_INCR = """
local v = redis.call('INCR', KEYS[1])
if v == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return v
"""

# Compare and delete in one step: a value written by someone else in between survives.
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStore:
    """The cluster store: plain Redis keys with TTLs, shared by every node."""

    def __init__(self, redis: Redis, *, prefix: str = "lg:kv:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._incr = redis.register_script(_INCR)
        self._delete_if = redis.register_script(_DELETE_IF)

    async def incr(self, key: str, *, ttl: int) -> int:
        return int(await self._incr(keys=[self._prefix + key], args=[ttl]))

    async def set(self, key: str, value: str, *, ttl: int) -> None:
        await self._redis.set(self._prefix + key, value, ex=ttl)

    async def ttl(self, key: str) -> int | None:
        remaining = int(await self._redis.ttl(self._prefix + key))
        return None if remaining < 0 else max(1, remaining)

    async def get(self, key: str) -> str | None:
        return _text(await self._redis.get(self._prefix + key))

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        values = await self._redis.mget([self._prefix + k for k in keys])
        return [_text(v) for v in values]

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._prefix + k for k in keys))

    async def delete_if(self, key: str, value: str) -> bool:
        return bool(await self._delete_if(keys=[self._prefix + key], args=[value]))


def _text(value: bytes | str | None) -> str | None:
    """A Redis reply as text (clients may or may not decode responses)."""
    return value.decode() if isinstance(value, bytes) else value
