"""Scheduled rotation of the token signing key (monthly by default).

Every ``signing_key_check_seconds`` on the app's clock each node asks the key ring to
rotate when the active key is ``signing_key_rotation_days`` old; the database decides
which node does it (``KeyRing.rotate_if_older``). The retired key stays published, so
tokens it signed verify until they expire. A rotation is audited (``keys.rotate``, via
``schedule``); a failed one raises a HIGH ``signing_key.rotation_failed`` alert and is
tried again at the next check.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit import AuditEvent, AuditLog
from lensguard.clock import Clock
from lensguard.identity.tokens import TokenService
from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.severity import Severity

log = get_logger(__name__)
ACTOR = "key-schedule"


class KeyRotationLoop:
    """Rotates the signing key when due; the same shape as the other schedules."""

    def __init__(
        self,
        tokens: TokenService,
        audit: AuditLog,
        *,
        clock: Clock,
        max_age_days: int,
        interval: float,
    ) -> None:
        self.tokens, self.audit, self.clock = tokens, audit, clock
        self.max_age = max_age_days * 86_400
        self.interval = interval
        self.checks = 0
        self.rotations = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._turning: asyncio.Future[str | None] | None = None

    async def _audit(self, session: AsyncSession, kid: str, retired: str) -> None:
        event = AuditEvent(
            action="keys.rotate",
            outcome="success",
            actor_type="system",
            actor_name=ACTOR,
            resource_type="signing_key",
            resource_id=kid,
            details={"via": "schedule", "retired": retired, "max_age_days": self.max_age // 86_400},
        )
        await self.audit.append(session, event)

    async def check(self) -> str | None:
        """One check: the new kid when this node rotated, else None. Never raises."""
        try:
            kid = await self.tokens.rotate_if_older(self.max_age, then=self._audit)
        except Exception as exc:
            self.failures += 1
            log.error("signing_key_rotation_failed", error=type(exc).__name__)
            emit("signing_key.rotation_failed", severity=Severity.HIGH, error=type(exc).__name__)
            kid = None
        else:
            if kid is not None:
                self.rotations += 1
                emit("signing_key.rotated", kid=kid, via="schedule")
        self.checks += 1  # last: a test waiting for a check sees its outcome
        return kid

    async def _loop(self) -> None:
        while True:
            await self.clock.sleep(self.interval)
            # Shielded: stopping waits for a check in progress instead of cutting it off.
            self._turning = asyncio.ensure_future(self.check())
            await asyncio.shield(self._turning)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._turning is not None:
            await self._turning  # never raises: check catches
            self._turning = None
