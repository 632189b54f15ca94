"""Traffic rules: request-rate spikes (DDoS) and injection attempts."""

from __future__ import annotations

from typing import ClassVar

from lensguard.threats.detector_settings import InjectionRule, RequestRateRule
from lensguard.threats.observation import Observation
from lensguard.threats.rule import Finding, crossed, over
from lensguard.threats.windows import Windows

REQUEST = "http.request"
"""One served HTTP request (fed by the request middleware, not the security log)."""
SUSPICIOUS = "guard.suspicious_request"


class RequestRate:
    """More than ``per_address`` requests a window from one address, or ``per_node``
    from everyone (``ddos``; the node-wide one names no address)."""

    name: ClassVar[str] = "request_rate"
    kinds: ClassVar[tuple[str, ...]] = ("ddos",)
    types: ClassVar[frozenset[str]] = frozenset({REQUEST})

    def __init__(self, rule: RequestRateRule) -> None:
        self.rule = rule

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        rule, window, found = self.rule, float(self.rule.window_seconds), []
        if event.address is not None:
            seen = await windows.count(f"rr:a:{event.address}", event.at, window)
            if seen >= rule.per_address:
                details = {"requests": int(seen), "scope": "address"}
                score = over(seen, rule.per_address)
                found.append(Finding("ddos", score, event.address, None, (event.id,), details))
        total = await windows.count("rr:node", event.at, window)
        if total >= rule.per_node:
            details = {"requests": int(total), "scope": "node"}
            found.append(
                Finding("ddos", over(total, rule.per_node), None, None, (event.id,), details)
            )
        return found


class Injection:
    """Requests scored at or above ``score`` for path traversal, script, SQL or command
    injection (``injection``), ``count`` of them within the window from one address."""

    name: ClassVar[str] = "injection"
    kinds: ClassVar[tuple[str, ...]] = ("injection",)
    types: ClassVar[frozenset[str]] = frozenset({SUSPICIOUS})

    def __init__(self, rule: InjectionRule) -> None:
        self.rule = rule

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        score = event.number("score")
        if score is None or score < self.rule.score:
            return []
        source = event.address or event.account or "unknown"
        ids = await crossed(
            windows,
            f"inj:{source}",
            event,
            window=float(self.rule.window_seconds),
            threshold=self.rule.count,
        )
        if ids is None:
            return []
        details = {"score": score, "path": event.text("path")}
        return [
            Finding("injection", min(0.99, score / 100), event.address, event.account, ids, details)
        ]
