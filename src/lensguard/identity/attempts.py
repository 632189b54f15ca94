"""One throttled check of a password and, where MFA is on, a one-time code.

Sign-in and every re-authentication (password change, MFA enrolment and removal)
go through ``Attempt``, so they share one failure budget per account+address, per
address and per account (``identity/throttle.py``).

While the account is locked by failures from anywhere, a password alone is refused
but the password with a valid one-time code (TOTP or recovery code) is admitted:
whoever trips the lock on purpose cannot keep an enrolled user out, and an attacker
guessing the password learns nothing from the answer, which is the same lock
whether the guess was right or wrong.
"""

from __future__ import annotations

import asyncio

from lensguard.errors import LensguardError, RateLimited, Unauthenticated
from lensguard.identity.context import IdentityContext
from lensguard.identity.factors import Factor, FactorKind, check_factor
from lensguard.identity.passwords import verify_password
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store.models import User


class MfaRequired(Unauthenticated):
    """Raised when the password was right but a one-time code is needed."""

    slug = "mfa-required"
    title = "One-time code required"


class AccountLocked(RateLimited):
    """Raised while failures from many addresses lock an account (password alone refused)."""

    slug = "account-locked"
    title = "Account temporarily locked"


ACCOUNT_LOCKED = (
    "too many failed attempts for this account; wait, or use your password "
    "together with a one-time code"
)


class Attempt:
    """A password (and maybe code) check, counted by the login throttle."""

    def __init__(self, ctx: IdentityContext, username: str, address: str) -> None:
        self._ctx = ctx
        self.username = username
        self.address = address
        self._account_lock: int | None = None
        self._factor: Factor | None = None

    @classmethod
    async def begin(cls, ctx: IdentityContext, username: str, address: str) -> Attempt:
        """Refuse at once while the pair or address is locked; note an account lock."""
        await ctx.throttle.check(username, address)
        attempt = cls(ctx, username, address)
        attempt._account_lock = await ctx.throttle.account_locked(username)
        return attempt

    async def password(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` matches; hashed in a thread, outside any transaction."""
        return await asyncio.to_thread(verify_password, self._ctx.hasher, stored_hash, password)

    async def factor(self, user: User, code: str) -> Factor | None:
        """The second factor ``code`` proves, or None (not yet counted: call ``failed``)."""
        self._factor = await check_factor(self._ctx, user, code)
        return self._factor

    @property
    def proven(self) -> Factor | None:
        """The second factor this attempt proved, to be claimed where it is relied on."""
        return self._factor

    async def failed(self) -> None:
        """Count a wrong password or code against the pair, the address and the account."""
        await self._ctx.throttle.failed(self.username, self.address)

    def refusal(self, error: LensguardError) -> LensguardError:
        """What to raise instead of ``error``: the account lock while it holds."""
        if self._account_lock is not None:
            return AccountLocked(ACCOUNT_LOCKED, retry_after=self._account_lock)
        return error

    def admit(self) -> None:
        """Raise while the account is locked and no one-time code was proved."""
        if self._account_lock is not None and self._factor is None:
            emit("auth.account_locked", severity=Severity.MEDIUM, username=self.username)
            raise AccountLocked(ACCOUNT_LOCKED, retry_after=self._account_lock)

    async def succeeded(self, user_id: str) -> None:
        """Clear the pair's count; a recovery code's use is a security event."""
        await self._ctx.throttle.succeeded(self.username, self.address)
        if self._factor is not None and self._factor.kind is FactorKind.RECOVERY_CODE:
            emit(
                "auth.recovery_code_used",
                severity=Severity.HIGH,
                user_id=user_id,
                address=self.address,
            )
