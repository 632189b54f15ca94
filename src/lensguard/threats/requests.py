"""``RequestObserverMiddleware``: one observation per HTTP request for the request-rate rule.

It sits outside the rate limiter, so a flood that is being refused still counts as a
flood, and inside the blocklist, so a blocked address stops counting. It never waits:
the observation goes to the monitor's bounded queue.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from lensguard.clock import Clock
from lensguard.guard.client import Network, client_address
from lensguard.monitor.observe import METHODS
from lensguard.threats.monitor import ThreatMonitor
from lensguard.threats.settings import ThreatSettings


def refused_injection_score(settings: ThreatSettings) -> int | None:
    """The score at which a request is refused outright, when ``injection`` responds with
    ``block_request`` and enforces; None when requests are only scored."""
    rule = settings.detectors.injection
    response = settings.responses.for_kind("injection")
    enforcing = settings.responses.enabled and not (
        settings.responses.monitor_only or response.monitor_only
    )
    if not (settings.detectors.enabled and rule.enabled and enforcing):
        return None
    return rule.score if response.action == "block_request" else None


class RequestObserverMiddleware:
    """Hands the monitor each request's address, method and path (cut to 200 chars)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        monitor: ThreatMonitor,
        trusted_proxies: tuple[Network, ...],
        clock: Clock,
    ) -> None:
        self.app = app
        self.monitor = monitor
        self.trusted = trusted_proxies
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.monitor.offer_request(
                address=client_address(scope, self.trusted),
                at=self.clock.time(),
                method=method,
                route=str(scope.get("path", ""))[:200],
            )
        await self.app(scope, receive, send)
