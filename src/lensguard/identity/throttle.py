"""Brute-force throttling of sign-in, per account+address and per address.

Failures are counted for each (account, address) pair and for each address. Past
a threshold the pair (or the address) is locked for a time that doubles with each
further failure, up to a cap. While locked, even the correct password is refused.
Throttling the pair rather than the account alone means an attacker elsewhere can
not lock the real user out by failing on purpose; the per-address count catches
one address spraying many accounts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lensguard.errors import RateLimited
from lensguard.store.kv import ExpiringStore

FAILURE_WINDOW = 15 * 60
MAX_LOCK = 15 * 60


@dataclass(frozen=True)
class ThrottleRule:
    """Lock after ``threshold`` failures within the window."""

    threshold: int


PAIR = ThrottleRule(threshold=5)
ADDRESS = ThrottleRule(threshold=30)


def _pair(username: str, address: str) -> str:
    return f"login:pair:{username.strip().lower()}|{address}"


def _address(address: str) -> str:
    return f"login:addr:{address}"


def lock_seconds(failures: int, rule: ThrottleRule) -> int:
    """How long to lock after ``failures``: 1 s at the threshold, doubling, capped."""
    if failures < rule.threshold:
        return 0
    return int(min(MAX_LOCK, 2 ** min(failures - rule.threshold, 20)))


class LoginThrottle:
    """Counts sign-in failures and refuses attempts while a lock holds."""

    # Set by Services: an address lock also puts the address on the blocklist for as long.
    on_address_lock: Callable[[str, int], Awaitable[object]] | None = None

    def __init__(self, store: ExpiringStore) -> None:
        self._store = store

    async def check(self, username: str, address: str) -> None:
        """Raise RateLimited (with Retry-After) while the pair or the address is locked."""
        for key in (_pair(username, address), _address(address)):
            remaining = await self._store.ttl(f"{key}:lock")
            if remaining is not None:
                raise RateLimited(
                    "too many failed sign-ins; wait before trying again",
                    retry_after=remaining,
                )

    async def failed(self, username: str, address: str) -> None:
        """Record a failure; lock the pair/address when past its threshold."""
        for key, rule in ((_pair(username, address), PAIR), (_address(address), ADDRESS)):
            count = await self._store.incr(f"{key}:fails", ttl=FAILURE_WINDOW)
            seconds = lock_seconds(count, rule)
            if seconds:
                await self._store.set(f"{key}:lock", str(count), ttl=seconds)
                if rule is ADDRESS and self.on_address_lock is not None:
                    await self.on_address_lock(address, seconds)

    async def succeeded(self, username: str, address: str) -> None:
        """Clear the pair's failures after a correct sign-in."""
        key = _pair(username, address)
        await self._store.delete(f"{key}:fails", f"{key}:lock")
