"""Exclusive leases with a holder token: in-process (embedded) and Redis (cluster).

A lease names one holder until it is released, taken over, or left idle past its
deadline. Deadlines are read on the caller's clock (the injected one), not the
store's: the record holds ``deadline|holder`` and every operation compares the
deadline with the ``now`` it is given, so a test turning a ``ManualClock`` expires a
lease on every node at once. In Redis the key also carries a TTL a minute past the
deadline, so records of a node that died are cleaned up; until then they read as
free as soon as their deadline passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from redis.asyncio import Redis

CLEANUP_MARGIN_MS = 60_000
"""How long a Redis record outlives its deadline (only for cleaning up)."""


class Claim(StrEnum):
    """What ``claim`` did."""

    ACQUIRED = "acquired"
    """The lease was free (or idle past its deadline): it is the caller's now."""
    RENEWED = "renewed"
    """The caller already held it: its deadline moved on."""
    REFUSED = "refused"
    """Someone else holds it (``ClaimResult.holder``)."""


@dataclass(frozen=True)
class ClaimResult:
    outcome: Claim
    holder: str
    """The holder in force afterwards (the caller's token unless refused)."""


class Leases(Protocol):
    """Exclusive, expiring leases every node shares."""

    async def claim(self, key: str, holder: str, *, lease: float) -> ClaimResult:
        """Take ``key`` if free, renew it if ``holder``'s; else who holds it."""
        ...

    async def take(self, key: str, holder: str, *, lease: float) -> str | None:
        """Make ``holder`` the holder whoever held it; the previous live holder, if any."""
        ...

    async def renew(self, key: str, holder: str, *, lease: float) -> bool:
        """Move the deadline on while ``holder`` holds ``key``; whether it does."""
        ...

    async def release(self, key: str, holder: str) -> bool:
        """End ``holder``'s lease (only its own, even if idle); whether it held one."""
        ...

    async def expire(self, key: str, holder: str) -> float | None:
        """End ``holder``'s lease if its deadline passed: 0 when it ended it now, the
        seconds left when it is not due yet, None when it is not ``holder``'s."""
        ...

    async def holder(self, key: str) -> str | None:
        """The live holder of ``key``, or None when it is free."""
        ...


class MemoryLeases:
    """The embedded leases: a dict of (deadline, holder)."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._data: dict[str, tuple[float, str]] = {}
        self._clock = clock

    def _live(self, key: str) -> str | None:
        entry = self._data.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    async def claim(self, key: str, holder: str, *, lease: float) -> ClaimResult:
        current = self._live(key)
        if current is not None and current != holder:
            return ClaimResult(Claim.REFUSED, current)
        self._data[key] = (self._clock() + lease, holder)
        return ClaimResult(Claim.RENEWED if current == holder else Claim.ACQUIRED, holder)

    async def take(self, key: str, holder: str, *, lease: float) -> str | None:
        previous = self._live(key)
        self._data[key] = (self._clock() + lease, holder)
        return previous

    async def renew(self, key: str, holder: str, *, lease: float) -> bool:
        if self._live(key) != holder:
            return False
        self._data[key] = (self._clock() + lease, holder)
        return True

    async def release(self, key: str, holder: str) -> bool:
        entry = self._data.get(key)
        if entry is None or entry[1] != holder:
            return False
        del self._data[key]
        return entry[0] > self._clock()

    async def expire(self, key: str, holder: str) -> float | None:
        entry = self._data.get(key)
        if entry is None or entry[1] != holder:
            return None
        left = entry[0] - self._clock()
        if left > 0:
            return left
        del self._data[key]
        return 0.0

    async def holder(self, key: str) -> str | None:
        return self._live(key)


# Records are "<deadline ms>|<holder>"; ARGV[1] is the caller's now in ms.
_PARSE = """
local function parse(record)
  if not record then return nil, nil end
  local bar = string.find(record, '|', 1, true)
  return tonumber(string.sub(record, 1, bar - 1)), string.sub(record, bar + 1)
end
"""

# ARGV: now, holder, lease ms, cleanup ms. Returns {outcome, holder in force}.
_CLAIM = (
    _PARSE
    + """
local deadline, current = parse(redis.call('GET', KEYS[1]))
local now = tonumber(ARGV[1])
if deadline and deadline > now and current ~= ARGV[2] then return {'refused', current} end
local until_ms = now + tonumber(ARGV[3])
redis.call('SET', KEYS[1], until_ms .. '|' .. ARGV[2], 'PX', tonumber(ARGV[3]) + tonumber(ARGV[4]))
if deadline and deadline > now then return {'renewed', ARGV[2]} end
return {'acquired', ARGV[2]}
"""
)

# ARGV: now, holder, lease ms, cleanup ms. Returns the previous live holder or false.
_TAKE = (
    _PARSE
    + """
local deadline, current = parse(redis.call('GET', KEYS[1]))
local now = tonumber(ARGV[1])
local until_ms = now + tonumber(ARGV[3])
redis.call('SET', KEYS[1], until_ms .. '|' .. ARGV[2], 'PX', tonumber(ARGV[3]) + tonumber(ARGV[4]))
if deadline and deadline > now then return current end
return false
"""
)

# ARGV: now, holder, lease ms, cleanup ms. Returns 1 when renewed.
_RENEW = (
    _PARSE
    + """
local deadline, current = parse(redis.call('GET', KEYS[1]))
local now = tonumber(ARGV[1])
if not deadline or deadline <= now or current ~= ARGV[2] then return 0 end
local until_ms = now + tonumber(ARGV[3])
redis.call('SET', KEYS[1], until_ms .. '|' .. ARGV[2], 'PX', tonumber(ARGV[3]) + tonumber(ARGV[4]))
return 1
"""
)

# ARGV: now, holder. Returns 1 when a live lease of holder's was ended.
_RELEASE = (
    _PARSE
    + """
local deadline, current = parse(redis.call('GET', KEYS[1]))
if not deadline or current ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
if deadline > tonumber(ARGV[1]) then return 1 end
return 0
"""
)

# ARGV: now, holder. Returns the ms left, 0 when it ended it now, -1 when not holder's.
_EXPIRE = (
    _PARSE
    + """
local deadline, current = parse(redis.call('GET', KEYS[1]))
if not deadline or current ~= ARGV[2] then return -1 end
local left = deadline - tonumber(ARGV[1])
if left > 0 then return left end
redis.call('DEL', KEYS[1])
return 0
"""
)


class RedisLeases:
    """The cluster leases: one Redis key each, changed only by Lua scripts (atomic)."""

    def __init__(
        self, redis: Redis, *, clock: Callable[[], float], prefix: str = "lg:lease:"
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = prefix
        self._claim = redis.register_script(_CLAIM)
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._expire = redis.register_script(_EXPIRE)

    def _now(self) -> int:
        return round(self._clock() * 1000)

    def _args(self, holder: str, lease: float) -> list[int | str]:
        return [self._now(), holder, max(1, int(lease * 1000)), CLEANUP_MARGIN_MS]

    async def claim(self, key: str, holder: str, *, lease: float) -> ClaimResult:
        outcome, current = await self._claim(
            keys=[self._prefix + key], args=self._args(holder, lease)
        )
        return ClaimResult(Claim(_text(outcome)), _text(current))

    async def take(self, key: str, holder: str, *, lease: float) -> str | None:
        previous = await self._take(keys=[self._prefix + key], args=self._args(holder, lease))
        return None if previous is None else _text(previous)

    async def renew(self, key: str, holder: str, *, lease: float) -> bool:
        return bool(await self._renew(keys=[self._prefix + key], args=self._args(holder, lease)))

    async def release(self, key: str, holder: str) -> bool:
        return bool(await self._release(keys=[self._prefix + key], args=[self._now(), holder]))

    async def expire(self, key: str, holder: str) -> float | None:
        left = int(await self._expire(keys=[self._prefix + key], args=[self._now(), holder]))
        return None if left < 0 else left / 1000

    async def holder(self, key: str) -> str | None:
        record = await self._redis.get(self._prefix + key)
        if record is None:
            return None
        deadline, _, current = _text(record).partition("|")
        return current if int(deadline) > self._now() else None


def _text(value: bytes | str) -> str:
    """A Redis reply as text (clients may or may not decode responses)."""
    return value.decode() if isinstance(value, bytes) else value
