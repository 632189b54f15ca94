"""Score every request for attack patterns; report it, and block addresses that keep trying.

Detection only: a request that scores still goes on to validation like any other,
unless it is the one that puts its address over the strike limit. Strikes are
counted in the expiring store (Redis in cluster mode), so attempts spread across
nodes add up.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from lensguard.clock import Clock, SystemClock
from lensguard.errors import SuspiciousRequest
from lensguard.guard.blocking import auto_block, refuse
from lensguard.guard.blocklist import Blocklist
from lensguard.guard.client import Network, client_address
from lensguard.guard.ratelimit import MemoryRateLimiter
from lensguard.guard.suspicious import Finding, score
from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.monitor.geoip import GeoIP, locate
from lensguard.monitor.metrics import Metrics
from lensguard.problem_json import error_response
from lensguard.settings import Severity, SuspiciousRequestSettings
from lensguard.store.kv import ExpiringStore
from lensguard.wire.closes import Close

log = get_logger("lensguard.guard")
REASON = "suspicious_requests"
EVENTS_PER_MINUTE = 20
"""Per address: enough to see what an attacker tries, not enough to flood the log."""
MAX_LOGGED_CHARS = 256
WARN_EVERY_SECONDS = 30.0


async def refuse_request(scope: Scope, receive: Receive, send: Send) -> None:
    """Refuse one suspicious request: 400 problem+json, or WebSocket close 1008."""
    if scope["type"] == "websocket":
        await send(
            {"type": "websocket.close", "code": Close.POLICY_VIOLATION.value, "reason": "refused"}
        )
        return
    err = SuspiciousRequest("this request looks like an injection attempt and was refused")
    await error_response(err, instance=None)(scope, receive, send)


def severity_for(value: int) -> Severity:
    """Event severity for a score: 80+ high, 50+ medium, anything else low."""
    if value >= 80:
        return Severity.HIGH
    if value >= 50:
        return Severity.MEDIUM
    return Severity.LOW


def _text(raw: object) -> str:
    # Raw bytes as sent; latin-1 maps every byte to one character, so nothing is lost.
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw or "")


class SuspiciousRequestMiddleware:
    """Score path and query; emit ``guard.suspicious_request``; block repeat offenders."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: SuspiciousRequestSettings,
        blocklist: Blocklist,
        strikes: ExpiringStore,
        trusted_proxies: tuple[Network, ...],
        metrics: Metrics | None = None,
        geoip: GeoIP | None = None,
        clock: Clock | None = None,
        refuse_score: int | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.refuse_score = refuse_score
        """Refuse requests scoring at least this (the ``block_request`` response); None: never."""
        self.blocklist = blocklist
        self.strikes = strikes
        self.trusted = trusted_proxies
        self.metrics = metrics
        self.geoip = geoip
        self.clock = clock or SystemClock()
        self._events = MemoryRateLimiter(max_keys=10_000, clock=self.clock.time)
        self._warned_at = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = _text(scope.get("raw_path") or scope.get("path"))
        query = _text(scope.get("query_string"))
        finding = score(path, query)
        if finding.score and await self._report(scope, path, query, finding):
            await refuse(scope, receive, send)
            return
        if finding.score and self.refuse_score is not None and finding.score >= self.refuse_score:
            await refuse_request(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _report(self, scope: Scope, path: str, query: str, finding: Finding) -> bool:
        """Log and count the finding; True when it got the address blocked just now."""
        address = client_address(scope, self.trusted)
        severity = severity_for(finding.score)
        if self.metrics is not None:
            self.metrics.suspicious_requests.labels(severity=severity.value).inc()
        if (await self._events.hit(address, limit=EVENTS_PER_MINUTE, window=60)).allowed:
            emit(
                "guard.suspicious_request",
                severity=severity,
                address=address,
                method=scope.get("method", "WEBSOCKET"),
                path=path[:MAX_LOGGED_CHARS],
                query=query[:MAX_LOGGED_CHARS],
                score=finding.score,
                signals=finding.signals,
                **locate(self.geoip, address),
            )
        if finding.score < self.settings.threshold or self.settings.block_seconds == 0:
            return False
        try:
            strikes = await self.strikes.incr(
                f"suspect:{address}", ttl=self.settings.window_seconds
            )
        except Exception as exc:
            self._warn(exc)
            return False
        if strikes < self.settings.block_after:
            return False
        blocked = await auto_block(
            self.blocklist, address, seconds=self.settings.block_seconds, reason=REASON
        )
        if blocked:
            try:
                await self.strikes.delete(f"suspect:{address}")
            except Exception as exc:
                self._warn(exc)
        return blocked

    def _warn(self, exc: Exception) -> None:
        now = self.clock.monotonic()
        if now - self._warned_at > WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning("suspicion_store_unavailable", error=type(exc).__name__)
