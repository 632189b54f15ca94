"""The IP blocklist: addresses and CIDR ranges refused before routing, with optional expiry.

Two stores share one interface: ``MemoryBlocklist`` (embedded mode, this process only)
and ``RedisBlocklist`` in ``blocklist_redis.py`` (cluster mode, shared by every node).
Neither will block a range that covers a trusted proxy: that would lock every client
behind the proxy out at once.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from lensguard.guard.client import Network
from lensguard.ip import parse_address as parse_address  # noqa: PLC0414 - re-exported
from lensguard.ip import unmap

MAX_RANGES = 1_000
THROTTLE_PREFIX = "throttle:"
"""An entry whose reason starts with this throttles the address instead of blocking it."""
THROTTLED = "lensguard.throttled"
"""The ASGI scope ``state`` key the blocklist middleware sets for a throttled address."""
"""Ranges are scanned on every request; more than this belongs in a firewall."""


class ProtectedAddress(ValueError):
    """Raised when a block would cover a trusted proxy."""


class BlocklistFull(ValueError):
    """Raised when the store holds as many entries as it may."""


@dataclass(frozen=True, slots=True)
class BlockEntry:
    """One blocked address or range; ``expires_at`` None means until unblocked."""

    target: str
    reason: str
    created_at: float
    expires_at: float | None = None

    @property
    def is_range(self) -> bool:
        """True for a CIDR range, False for a single address."""
        return "/" in self.target

    def expired(self, now: float) -> bool:
        """True once the entry's time is up."""
        return self.expires_at is not None and self.expires_at <= now

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> BlockEntry:
        """Parse the stored form; raises ValueError on junk."""
        data = json.loads(raw)
        expires = data.get("expires_at")
        return cls(
            target=str(data["target"]),
            reason=str(data["reason"]),
            created_at=float(data["created_at"]),
            expires_at=None if expires is None else float(expires),
        )


Entries = list[BlockEntry]  # ``list`` is a method name inside the classes below


class Blocklist(Protocol):
    """Blocked addresses and ranges, each with a reason and an optional expiry."""

    async def block(self, target: str, *, ttl: int | None, reason: str) -> BlockEntry:
        """Block an address or CIDR range for ``ttl`` seconds (None: until unblocked)."""
        ...

    async def unblock(self, target: str) -> bool:
        """Remove a block; False when there was none."""
        ...

    async def is_blocked(self, address: str) -> BlockEntry | None:
        """The entry that blocks ``address``, or None."""
        ...

    async def list(self) -> Entries:
        """Every live entry, exact addresses and ranges alike."""
        ...


def parse_target(text: str) -> Network:
    """An address or CIDR range to block; raises ValueError (host bits set, junk)."""
    network = ipaddress.ip_network(text.strip(), strict=True)
    if network.num_addresses == 1:
        single = unmap(network.network_address)
        return ipaddress.ip_network(single)
    return network


def target_text(network: Network) -> str:
    """The canonical key: a bare address for single hosts, CIDR notation for ranges."""
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


def check_target(text: str, protected: tuple[Network, ...]) -> Network:
    """Parse ``text`` and refuse it when it overlaps a protected (trusted proxy) network."""
    network = parse_target(text)
    for proxy in protected:
        if network.version == proxy.version and network.overlaps(proxy):
            raise ProtectedAddress(f"{target_text(network)} would block trusted proxy {proxy}")
    return network


def new_entry(network: Network, *, ttl: int | None, reason: str, now: float) -> BlockEntry:
    """The entry to store for a block starting ``now``."""
    if ttl is not None and ttl < 1:
        raise ValueError("ttl must be at least one second, or None for a permanent block")
    expires = None if ttl is None else now + ttl
    return BlockEntry(target_text(network), reason, created_at=now, expires_at=expires)


class MemoryBlocklist:
    """The embedded store: two dicts, expired entries dropped as they are met.

    Lost on restart; blocks that must outlive the process belong in cluster mode
    (Redis) or the firewall.
    """

    def __init__(
        self,
        *,
        protected: tuple[Network, ...] = (),
        clock: Callable[[], float] = time.time,
        max_addresses: int = 100_000,
    ) -> None:
        self._protected = protected
        self._clock = clock
        self._max_addresses = max_addresses
        self._addresses: dict[str, BlockEntry] = {}
        self._ranges: dict[str, tuple[Network, BlockEntry]] = {}

    async def block(self, target: str, *, ttl: int | None, reason: str) -> BlockEntry:
        network = check_target(target, self._protected)
        now = self._clock()
        entry = new_entry(network, ttl=ttl, reason=reason, now=now)
        if entry.is_range:
            if entry.target not in self._ranges and len(self._ranges) >= MAX_RANGES:
                self._sweep(now)
                if len(self._ranges) >= MAX_RANGES:
                    raise BlocklistFull(f"at most {MAX_RANGES} ranges may be blocked")
            self._ranges[entry.target] = (network, entry)
            return entry
        if entry.target not in self._addresses and len(self._addresses) >= self._max_addresses:
            self._sweep(now)
            if len(self._addresses) >= self._max_addresses:
                raise BlocklistFull(f"at most {self._max_addresses} addresses may be blocked")
        self._addresses[entry.target] = entry
        return entry

    async def unblock(self, target: str) -> bool:
        key = target_text(parse_target(target))
        found = self._addresses.pop(key, None) or self._ranges.pop(key, None)
        return found is not None

    async def is_blocked(self, address: str) -> BlockEntry | None:
        ip = parse_address(address)
        if ip is None:
            return None
        now = self._clock()
        entry = self._addresses.get(str(ip))
        if entry is not None:
            if not entry.expired(now):
                return entry
            del self._addresses[entry.target]
        for network, ranged in list(self._ranges.values()):
            if ranged.expired(now):
                del self._ranges[ranged.target]
            elif ip.version == network.version and ip in network:
                return ranged
        return None

    async def list(self) -> Entries:
        self._sweep(self._clock())
        return [*self._addresses.values(), *(entry for _, entry in self._ranges.values())]

    def _sweep(self, now: float) -> None:
        for key in [k for k, e in self._addresses.items() if e.expired(now)]:
            del self._addresses[key]
        for key in [k for k, (_, e) in self._ranges.items() if e.expired(now)]:
            del self._ranges[key]
