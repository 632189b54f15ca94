"""Data rules: bytes leaving per principal (exfiltration), access at unusual hours."""

from __future__ import annotations

import time
from typing import ClassVar

from lensguard.threats.detector_settings import ExfiltrationRule, OffHoursRule
from lensguard.threats.observation import Observation
from lensguard.threats.rule import Finding, over
from lensguard.threats.windows import Windows

EGRESS = "data.egress"
"""Bytes of recordings, evidence bundles or audit entries handed to a principal."""
ACCESS = frozenset({EGRESS, "stream.view_start", "auth.login_succeeded", "http.request"})
"""What counts as a principal using the system, for its usual hours."""
SPAN = 2
"""Hours either side that count as "near": working hours drift by an hour or two."""


class Exfiltration:
    """More than ``bytes`` handed to one principal within the window (``exfiltration``)."""

    name: ClassVar[str] = "exfiltration"
    kinds: ClassVar[tuple[str, ...]] = ("exfiltration",)
    types: ClassVar[frozenset[str]] = frozenset({EGRESS})

    def __init__(self, rule: ExfiltrationRule) -> None:
        self.rule = rule

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        amount = event.number("bytes")
        source = event.account or event.address
        if amount is None or amount <= 0 or source is None:
            return []
        total = await windows.count(
            f"ex:{source}", event.at, float(self.rule.window_seconds), amount
        )
        if total < self.rule.bytes:
            return []
        details = {"bytes": int(total), "channel": event.text("channel")}
        score = over(total, self.rule.bytes)
        return [Finding("exfiltration", score, event.address, event.account, (event.id,), details)]


class OffHours:
    """Access in an hour of the day (UTC) that a principal with a long enough history has
    almost never used, nor the two hours either side (``off_hours_access``)."""

    name: ClassVar[str] = "off_hours"
    kinds: ClassVar[tuple[str, ...]] = ("off_hours_access",)
    types: ClassVar[frozenset[str]] = ACCESS

    def __init__(self, rule: OffHoursRule) -> None:
        self.rule = rule

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        account = event.account
        if account is None:
            return []
        hour = time.gmtime(event.at).tm_hour
        ttl = self.rule.history_days * 86_400.0
        counts = await windows.histogram(f"oh:{account}", hour, event.at, ttl)
        total = sum(counts)
        if total < self.rule.min_history:
            return []
        near = sum(counts[(hour + step) % 24] for step in range(-SPAN, SPAN + 1))
        if near >= self.rule.share * total:
            return []
        details = {"hour": hour, "history": total, "in_hour": counts[hour]}
        return [Finding("off_hours_access", 0.6, event.address, account, (event.id,), details)]
