"""The cluster blocklist: Redis, shared by every node.

Exact addresses are keys that expire with the block (one GET per request). Ranges
are few, so they live in one hash that each node re-reads at most every
``refresh_seconds`` and scans in memory; a node sees another node's new range
within that time, and its own at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis

from lensguard.guard.blocklist import (
    MAX_RANGES,
    BlockEntry,
    BlocklistFull,
    Entries,
    check_target,
    new_entry,
    parse_address,
    parse_target,
    target_text,
)
from lensguard.guard.client import Network
from lensguard.logs import get_logger

log = get_logger("lensguard.guard")
SCAN_BATCH = 500
_Ranges = list[tuple[Network, BlockEntry]]  # ``list`` is a method name inside the class

# Delete hash fields only while they still hold what we read: another node may have
# blocked the same range again in between.
_DELETE_IF_UNCHANGED = """
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return removed
"""


class RedisBlocklist:
    """Blocks in Redis: ``<prefix>ip:<address>`` keys with TTLs and a ``<prefix>ranges`` hash."""

    def __init__(
        self,
        redis: Redis,
        *,
        protected: tuple[Network, ...] = (),
        prefix: str = "lg:bl:",
        refresh_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._protected = protected
        self._prefix = prefix
        self._refresh = refresh_seconds
        self._clock = clock
        self._ranges: _Ranges = []
        self._ranges_read_at: float | None = None
        self._delete_if_unchanged = redis.register_script(_DELETE_IF_UNCHANGED)

    def _key(self, address: str) -> str:
        return f"{self._prefix}ip:{address}"

    @property
    def _ranges_key(self) -> str:
        return f"{self._prefix}ranges"

    async def block(self, target: str, *, ttl: int | None, reason: str) -> BlockEntry:
        network = check_target(target, self._protected)
        entry = new_entry(network, ttl=ttl, reason=reason, now=self._clock())
        if not entry.is_range:
            await self._redis.set(self._key(entry.target), entry.to_json(), ex=ttl)
            return entry
        known = await self._redis.hexists(self._ranges_key, entry.target)
        if not known and await self._redis.hlen(self._ranges_key) >= MAX_RANGES:
            raise BlocklistFull(f"at most {MAX_RANGES} ranges may be blocked")
        await self._redis.hset(self._ranges_key, entry.target, entry.to_json())
        self._ranges_read_at = None  # our own change applies at once
        return entry

    async def unblock(self, target: str) -> bool:
        network = parse_target(target)
        key = target_text(network)
        if network.num_addresses == 1:
            return bool(await self._redis.delete(self._key(key)))
        removed = bool(await self._redis.hdel(self._ranges_key, key))
        self._ranges_read_at = None
        return removed

    async def is_blocked(self, address: str) -> BlockEntry | None:
        ip = parse_address(address)
        if ip is None:
            return None
        raw = await self._redis.get(self._key(str(ip)))
        now = self._clock()
        if raw is not None:
            entry = self._decode(raw)
            # Redis drops the key at its TTL; the clock check holds the same line for
            # the moment in between (and for a clock turned by hand).
            if entry is not None and not entry.expired(now):
                return entry
        for network, entry in await self._current_ranges(now):
            if ip.version == network.version and ip in network and not entry.expired(now):
                return entry
        return None

    async def list(self) -> Entries:
        entries: Entries = []
        now = self._clock()
        keys = [k async for k in self._redis.scan_iter(match=self._key("*"), count=SCAN_BATCH)]
        for start in range(0, len(keys), SCAN_BATCH):
            for raw in await self._redis.mget(keys[start : start + SCAN_BATCH]):
                entry = None if raw is None else self._decode(raw)
                if entry is not None and not entry.expired(now):
                    entries.append(entry)
        entries.extend(entry for _, entry in await self._read_ranges(now))
        return entries

    async def _current_ranges(self, now: float) -> _Ranges:
        read_at = self._ranges_read_at
        if read_at is None or now - read_at >= self._refresh or now < read_at:
            self._ranges = await self._read_ranges(now)
            self._ranges_read_at = now
        return self._ranges

    async def _read_ranges(self, now: float) -> _Ranges:
        stored = await self._redis.hgetall(self._ranges_key)
        live: _Ranges = []
        stale: list[bytes | str] = []
        for field, raw in stored.items():
            entry = self._decode(raw)
            network = None if entry is None else _network(entry.target)
            if entry is None or network is None or entry.expired(now):
                stale.extend((field, raw))
                continue
            live.append((network, entry))
        if stale:
            # Hash fields do not expire on their own; whoever notices removes them.
            await self._delete_if_unchanged(keys=[self._ranges_key], args=stale)
        return live

    @staticmethod
    def _decode(raw: bytes | str) -> BlockEntry | None:
        try:
            return BlockEntry.from_json(raw)
        except (ValueError, KeyError, TypeError):
            log.warning("blocklist_entry_unreadable")
            return None


def _network(target: str) -> Network | None:
    try:
        return parse_target(target)
    except ValueError:
        return None
