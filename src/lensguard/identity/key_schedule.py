"""Scheduled rotation of the token signing key (monthly by default).

Every ``signing_key_check_seconds`` on the app's clock each node asks the key ring to
rotate when the active key is ``signing_key_rotation_days`` old; the database decides
which node does it (``KeyRing.rotate_if_older``). The retired key stays published, so
tokens it signed verify until they expire. A rotation is audited (``keys.rotate``, via
``schedule``); a failed one raises a HIGH ``signing_key.rotation_failed`` alert and is
tried again at the next check.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit import AuditEvent, AuditLog
from lensguard.clock import Clock
from lensguard.identity.tokens import TokenService
from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.periodic import Periodic, Scheduled
from lensguard.severity import Severity

log = get_logger(__name__)
ACTOR = "key-schedule"


class KeyRotationLoop(Scheduled):
    """Rotates the signing key when due, on the shared ``Periodic`` loop."""

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
        self.rotations = 0
        self._every: Periodic[str | None] = Periodic(
            self._rotate, clock=clock, interval=interval, on_failure=self._failed
        )

    @property
    def checks(self) -> int:
        return self._every.runs

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

    async def _rotate(self) -> str | None:
        kid = await self.tokens.rotate_if_older(self.max_age, then=self._audit)
        if kid is not None:
            self.rotations += 1
            emit("signing_key.rotated", kid=kid, via="schedule")
        return kid

    def _failed(self, exc: Exception) -> None:
        log.error("signing_key_rotation_failed", error=type(exc).__name__)
        emit("signing_key.rotation_failed", severity=Severity.HIGH, error=type(exc).__name__)

    async def check(self) -> str | None:
        """One check: the new kid when this node rotated, else None. Never raises."""
        return await self._every.turn()
