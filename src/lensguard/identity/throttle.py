"""Brute-force throttling of every password or code check: per account+address, per
address and per account.

Failures are counted for each (account, address) pair, each address and each account,
wherever a password or one-time code is checked (sign-in, its MFA step, password
change, MFA enrolment and removal): every place that checks the same secret spends the
same budget. Past a threshold the pair, address or account is locked for a time that
doubles with each further failure, up to a cap.

While the pair or the address is locked, even the correct password is refused.
Throttling the pair means an attacker elsewhere cannot lock the real user out that
way; the per-address count catches one address spraying many accounts. The account
count catches many addresses guessing one account; since anyone can trip it, an
account lock refuses a password alone but still admits the password with a valid
one-time code (see ``identity/attempts.py``), and it ends at most ``MAX_LOCK`` after
the last failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lensguard.errors import RateLimited
from lensguard.store.kv import ExpiringStore

FAILURE_WINDOW = 15 * 60
ACCOUNT_WINDOW = 60 * 60
MAX_LOCK = 15 * 60


@dataclass(frozen=True)
class ThrottleRule:
    """Lock after ``threshold`` failures within ``window`` seconds of the first."""

    threshold: int
    window: int = FAILURE_WINDOW


PAIR = ThrottleRule(threshold=5)
ADDRESS = ThrottleRule(threshold=30)
ACCOUNT = ThrottleRule(threshold=10, window=ACCOUNT_WINDOW)


def _account(username: str) -> str:
    return f"login:acct:{username.strip().lower()}"


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
    """Counts password and code failures and refuses attempts while a lock holds."""

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

    async def account_locked(self, username: str) -> int | None:
        """Seconds the account stays locked (failures from any address), or None."""
        return await self._store.ttl(f"{_account(username)}:lock")

    async def failed(self, username: str, address: str) -> None:
        """Record a failure; lock the pair, address or account when past its threshold."""
        rules = (
            (_pair(username, address), PAIR),
            (_address(address), ADDRESS),
            (_account(username), ACCOUNT),
        )
        for key, rule in rules:
            count = await self._store.incr(f"{key}:fails", ttl=rule.window)
            seconds = lock_seconds(count, rule)
            if seconds:
                await self._store.set(f"{key}:lock", str(count), ttl=seconds)
                if rule is ADDRESS and self.on_address_lock is not None:
                    await self.on_address_lock(address, seconds)

    async def succeeded(self, username: str, address: str) -> None:
        """Clear the pair's failures after a correct sign-in.

        The account's count stays: a success from one address says nothing about
        guesses from others, and clearing it would hand them a fresh budget.
        """
        key = _pair(username, address)
        await self._store.delete(f"{key}:fails", f"{key}:lock")
