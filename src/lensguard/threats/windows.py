"""``Windows``: the detectors' sliding windows, with fixed memory per key.

Every operation takes the event's own time (``at``, Unix seconds), so a replay of old
events sees the same windows the live server did. Three shapes cover every rule:

- ``count``: a sum over the last ``window`` seconds, kept in ``BUCKETS`` buckets (the
  window slides in steps of ``window / BUCKETS``);
- ``distinct``: how many different members were seen in the window, remembering at most
  ``cap`` of them (a rule only needs to know that the count reached its threshold);
- ``swap``: store a value, return the one it replaced (the last place a principal was).

Plus ``once`` (true the first time a key is claimed within ``ttl``: the cooldown that
keeps one attack from raising a detection per event) and ``histogram`` (24-slot counts
such as a principal's usual hours).

``MemoryWindows`` serves one node and the offline replay; ``RedisWindows`` serves a
cluster, so an address spread over several nodes adds up. Keys expire in both.
"""

from __future__ import annotations

import math
from typing import Protocol

from redis.asyncio import Redis

BUCKETS = 6


class Windows(Protocol):
    """Sliding windows keyed by text, evaluated at event time."""

    async def count(self, key: str, at: float, window: float, amount: float = 1.0) -> float:
        """Add ``amount`` at ``at``; the sum over ``(at - window, at]``."""
        ...

    async def distinct(self, key: str, member: str, at: float, window: float, cap: int) -> int:
        """Note ``member`` at ``at``; how many distinct members the window holds (≤ cap)."""
        ...

    async def members(self, key: str, at: float, window: float) -> list[str]:
        """The members ``distinct`` holds for ``key`` in the window, oldest first."""
        ...

    async def swap(self, key: str, value: str, at: float, ttl: float) -> str | None:
        """Store ``value``; the value stored before (None if none or expired)."""
        ...

    async def once(self, key: str, at: float, ttl: float) -> bool:
        """True when ``key`` was not claimed in the last ``ttl`` seconds (it is now)."""
        ...

    async def histogram(self, key: str, slot: int, at: float, ttl: float) -> list[int]:
        """The 24 slot counts before this call, then count one in ``slot``."""
        ...


def _bucket(at: float, window: float) -> int:
    return math.floor(at * BUCKETS / window)


class MemoryWindows:
    """Windows in this process: one dict, swept of idle keys as event time moves on.

    At most ``max_keys`` keys are held; past that the least recently touched go first,
    so a flood of distinct sources costs bounded memory (its oldest keys are forgotten).
    """

    def __init__(self, *, max_keys: int = 200_000) -> None:
        self._data: dict[str, tuple[float, object]] = {}
        self._max_keys = max_keys
        self._now = -math.inf

    def __len__(self) -> int:
        return len(self._data)

    def _get(self, key: str, at: float) -> object | None:
        """The live value of ``key`` (taken out: the caller puts it back)."""
        self._now = max(self._now, at)
        entry = self._data.pop(key, None)
        if entry is None or entry[0] <= self._now:
            return None
        return entry[1]

    def _expiry(self, key: str) -> float | None:
        entry = self._data.get(key)
        return None if entry is None or entry[0] <= self._now else entry[0]

    def _put(self, key: str, value: object, expires: float) -> None:
        data = self._data
        data[key] = (expires, value)  # re-inserted last: the dict is in touch order
        if len(data) > self._max_keys:
            self._sweep()

    def _sweep(self) -> None:
        data = self._data
        expired = [k for k, (expires, _) in data.items() if expires <= self._now]
        for key in expired:
            del data[key]
        excess = len(data) - self._max_keys * 9 // 10
        if excess > 0:
            for key in list(data)[:excess]:
                del data[key]

    async def count(self, key: str, at: float, window: float, amount: float = 1.0) -> float:
        bucket = _bucket(at, window)
        old = self._get(key, at)
        buckets: dict[int, float] = old if isinstance(old, dict) else {}
        buckets[bucket] = buckets.get(bucket, 0.0) + amount
        floor = bucket - BUCKETS
        for stale in [b for b in buckets if b <= floor]:
            del buckets[stale]
        self._put(key, buckets, at + window)
        return sum(buckets.values())

    async def distinct(self, key: str, member: str, at: float, window: float, cap: int) -> int:
        old = self._get(key, at)
        members: dict[str, float] = old if isinstance(old, dict) else {}
        members.pop(member, None)
        members[member] = at  # newest last
        cutoff = at - window
        for gone in [m for m, seen in members.items() if seen <= cutoff]:
            del members[gone]
        while len(members) > cap:
            del members[next(iter(members))]
        self._put(key, members, at + window)
        return len(members)

    async def members(self, key: str, at: float, window: float) -> list[str]:
        entry = self._data.get(key)
        if entry is None or not isinstance(entry[1], dict):
            return []
        cutoff = at - window
        return [m for m, seen in entry[1].items() if seen > cutoff]

    async def swap(self, key: str, value: str, at: float, ttl: float) -> str | None:
        old = self._get(key, at)
        self._put(key, value, at + ttl)
        return old if isinstance(old, str) else None

    async def once(self, key: str, at: float, ttl: float) -> bool:
        self._now = max(self._now, at)
        if self._expiry(key) is not None:
            return False
        self._put(key, True, at + ttl)
        return True

    async def histogram(self, key: str, slot: int, at: float, ttl: float) -> list[int]:
        old = self._get(key, at)
        counts: list[int] = old if isinstance(old, list) else [0] * 24
        before = list(counts)
        counts[slot % 24] += 1
        self._put(key, counts, at + ttl)
        return before


_COUNT = """
local bucket = tonumber(ARGV[1])
redis.call('HINCRBYFLOAT', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local b = tonumber(fields[i])
  if b <= bucket - tonumber(ARGV[4]) then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    total = total + tonumber(fields[i + 1])
  end
end
return tostring(total)
"""

_DISTINCT = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
redis.call('EXPIRE', KEYS[1], ARGV[5])
return redis.call('ZCARD', KEYS[1])
"""

_HISTOGRAM = """
local before = redis.call('HMGET', KEYS[1], unpack(ARGV, 3))
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return before
"""

_SLOTS = [str(slot) for slot in range(24)]


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))


class RedisWindows:
    """Windows shared by every node: one small Redis structure per key, each with a TTL.

    ``count`` is a hash of at most ``BUCKETS + 1`` buckets, ``distinct`` a sorted set
    trimmed to ``cap`` members, ``histogram`` a hash of 24 counters; each operation is
    one script call, so concurrent nodes never lose an update.
    """

    def __init__(self, redis: Redis, *, prefix: str = "lg:threats:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._count = redis.register_script(_COUNT)
        self._distinct = redis.register_script(_DISTINCT)
        self._histogram = redis.register_script(_HISTOGRAM)

    async def count(self, key: str, at: float, window: float, amount: float = 1.0) -> float:
        reply = await self._count(
            keys=[self._prefix + key],
            args=[_bucket(at, window), repr(float(amount)), _seconds(window), BUCKETS],
        )
        return float(reply)

    async def distinct(self, key: str, member: str, at: float, window: float, cap: int) -> int:
        reply = await self._distinct(
            keys=[self._prefix + key],
            args=[member, repr(at), repr(at - window), cap, _seconds(window)],
        )
        return int(reply)

    async def members(self, key: str, at: float, window: float) -> list[str]:
        found = await self._redis.zrangebyscore(self._prefix + key, f"({at - window!r}", "+inf")
        return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

    async def swap(self, key: str, value: str, at: float, ttl: float) -> str | None:
        old = await self._redis.set(self._prefix + key, value, ex=_seconds(ttl), get=True)
        if isinstance(old, bytes):
            return old.decode()
        return old if isinstance(old, str) else None

    async def once(self, key: str, at: float, ttl: float) -> bool:
        return bool(await self._redis.set(self._prefix + key, "1", ex=_seconds(ttl), nx=True))

    async def histogram(self, key: str, slot: int, at: float, ttl: float) -> list[int]:
        reply = await self._histogram(
            keys=[self._prefix + key], args=[str(slot % 24), _seconds(ttl), *_SLOTS]
        )
        return [int(v) if v is not None else 0 for v in reply]
