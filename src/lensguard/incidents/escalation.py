"""``Escalator``: a critical incident nobody acknowledges alerts the next level.

``incidents.escalation`` lists levels by minutes after opening (15: ``on-call``, 60:
``security-lead`` by default). Every ``escalation_check_seconds`` on the injected clock
the escalator looks for running critical incidents that no person has acted on
(``acknowledged_at`` unset: any state change, comment, owner or step by a person sets
it) and are older than the next level's minutes. Each is raised one level with a
conditional update (only from the level below, only while unacknowledged), so nodes
running side by side alert each level once. A raise writes an ``escalated`` timeline
entry (``incident.escalated`` in the audit chain) and a CRITICAL ``incident.escalated``
security event carrying ``level`` and ``level_name``, which the alert sinks deliver and
a pager's routing can match on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select

from lensguard.clock import Clock
from lensguard.incidents.book import RUNNING, IncidentBook
from lensguard.incidents.models import Incident
from lensguard.incidents.settings import EscalationLevel
from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.periodic import Periodic, Scheduled
from lensguard.severity import Severity

log = get_logger("lensguard.incidents")
BATCH = 200


class Escalator(Scheduled):
    """Raises unacknowledged critical incidents through ``levels``; see the module."""

    def __init__(
        self,
        book: IncidentBook,
        levels: Sequence[EscalationLevel],
        *,
        clock: Clock,
        every_seconds: float,
    ) -> None:
        self.book = book
        self.levels = list(levels)
        self.clock = clock
        self.every_seconds = every_seconds
        # A round first, then one every ``every_seconds``; shielded turns: stopping
        # waits for a round in progress instead of cutting it off mid-query, which
        # would leave its database connection to the collector.
        self._every: Periodic[list[tuple[str, int]]] = Periodic(
            self.run_once,
            clock=clock,
            interval=every_seconds,
            on_failure=self._failed,
            first_at_start=True,
        )

    async def run_once(self) -> list[tuple[str, int]]:
        """Raise every incident that is due; the (incident id, level) pairs raised."""
        now = self.clock.now()
        raised: list[tuple[str, int]] = []
        for number, level in enumerate(self.levels, start=1):
            due = now - timedelta(minutes=level.after_minutes)
            async with self.book.db.sessions() as session:
                rows = await session.scalars(
                    select(Incident)
                    .where(
                        Incident.severity == Severity.CRITICAL.value,
                        Incident.state.in_(RUNNING),
                        Incident.acknowledged_at.is_(None),
                        Incident.escalation_level == number - 1,
                        Incident.opened_at <= due,
                    )
                    .order_by(Incident.opened_at)
                    .limit(BATCH)
                )
                found = list(rows)
            for incident in found:
                if not await self.book.escalate(incident.id, number, level.name, at=now):
                    continue
                raised.append((incident.id, number))
                emit(
                    "incident.escalated",
                    severity=Severity.CRITICAL,
                    resource=f"incident:{incident.id}",
                    principal=incident.principal,
                    address=incident.address,
                    # The level first: an SMS is cut at 160 characters.
                    level_name=level.name,
                    level=number,
                    unacknowledged_minutes=int((now - incident.opened_at).total_seconds() // 60),
                    kind=incident.kind,
                    title=incident.title,
                )
        return raised

    def _failed(self, exc: Exception) -> None:
        # A database outage must not end escalation for good: the next round tries again.
        log.warning("incident_escalation_failed", error=type(exc).__name__)
        emit("incident.escalation_failed", severity=Severity.HIGH)

    def start(self) -> None:
        """Check now and then every ``every_seconds`` (on the running loop)."""
        if self.levels:
            self._every.start()
