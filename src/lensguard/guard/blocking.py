"""Refuse blocked client addresses before routing: 403 problem+json, or WebSocket close 1008.

Fail-open by decision: when the blocklist store (Redis) cannot answer, requests go
through and a warning is logged at most every 30 s. The blocklist is defence in
depth; authentication, revocation (fail-closed) and rate limits still apply, while
failing closed would turn a Redis outage into a full outage, health probes included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from lensguard.clock import Clock, SystemClock
from lensguard.errors import Blocked
from lensguard.guard.blocklist import (
    THROTTLE_PREFIX,
    THROTTLED,
    BlockEntry,
    Blocklist,
    ProtectedAddress,
    parse_address,
)
from lensguard.guard.client import Network, client_address
from lensguard.guard.ratelimit import MemoryRateLimiter
from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.monitor.geoip import GeoIP, locate
from lensguard.monitor.metrics import Metrics
from lensguard.problem_json import error_response
from lensguard.severity import Severity
from lensguard.wire.closes import Close

log = get_logger("lensguard.guard")
WARN_EVERY_SECONDS = 30.0
EVENTS_PER_MINUTE = 1
"""A blocked client may keep knocking; one event a minute per address says enough."""


async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a blocked client: close a WebSocket with 1008, else 403 problem+json."""
    if scope["type"] == "websocket":
        await send(
            {"type": "websocket.close", "code": Close.POLICY_VIOLATION.value, "reason": "blocked"}
        )
        return
    err = Blocked("requests from this address are blocked")
    response = error_response(err, instance=scope.get("path"))
    response.headers["Connection"] = "close"
    await response(scope, receive, send)


class BlocklistMiddleware:
    """Look the client address up in the blocklist before anything else runs."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        blocklist: Blocklist,
        trusted_proxies: tuple[Network, ...],
        metrics: Metrics | None = None,
        geoip: GeoIP | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.app = app
        self.blocklist = blocklist
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
        address = client_address(scope, self.trusted)
        entry = await self._lookup(address)
        if entry is None:
            await self.app(scope, receive, send)
            return
        if entry.reason.startswith(THROTTLE_PREFIX):
            # Throttled, not blocked: the rate limiter gives it the smaller budget.
            scope.setdefault("state", {})[THROTTLED] = True
            await self.app(scope, receive, send)
            return
        if self.metrics is not None:
            self.metrics.blocked_requests.labels(transport=scope["type"]).inc()
        sample = await self._events.hit(address, limit=EVENTS_PER_MINUTE, window=60)
        if sample.allowed:
            emit(
                "guard.blocked_request",
                severity=Severity.LOW,
                address=address,
                path=scope.get("path"),
                transport=scope["type"],
                reason=entry.reason,
                blocked_target=entry.target,
                **locate(self.geoip, address),
            )
        await refuse(scope, receive, send)

    async def _lookup(self, address: str) -> BlockEntry | None:
        ip = parse_address(address)
        # A trusted proxy is never refused: every client behind it would be.
        if ip is None or any(ip in net for net in self.trusted):
            return None
        try:
            return await self.blocklist.is_blocked(address)
        except Exception as exc:
            now = self.clock.monotonic()
            if now - self._warned_at > WARN_EVERY_SECONDS:
                self._warned_at = now
                log.warning("blocklist_store_unavailable", error=type(exc).__name__)
            return None


async def auto_block(blocklist: Blocklist, address: str, *, seconds: int, reason: str) -> bool:
    """Block ``address`` for ``seconds`` on a detector's behalf; never raises.

    Loopback and trusted proxies are never blocked automatically: when a proxy is not
    configured as trusted every client shares its address, and blocking it would
    lock everyone out.
    """
    ip = parse_address(address)
    if ip is None or ip.is_loopback:
        log.warning("auto_block_skipped", client=address, reason=reason, why="not blockable")
        return False
    try:
        if await blocklist.is_blocked(address) is not None:
            return False  # an earlier (maybe longer, maybe manual) block stands
        await blocklist.block(address, ttl=seconds, reason=reason)
    except ProtectedAddress:
        log.warning("auto_block_skipped", client=address, reason=reason, why="trusted proxy")
        return False
    except Exception as exc:
        log.warning("auto_block_failed", client=address, reason=reason, error=type(exc).__name__)
        return False
    emit(
        "guard.address_blocked",
        severity=Severity.HIGH,
        target=str(ip),
        ttl_seconds=seconds,
        reason=reason,
        actor="system",
    )
    return True


def brute_force_hook(blocklist: Blocklist) -> Callable[[str, int], Awaitable[bool]]:
    """The sign-in throttle's address-lock hook: block the address for the lock time."""

    async def on_address_lock(address: str, seconds: int) -> bool:
        return await auto_block(blocklist, address, seconds=seconds, reason="brute_force")

    return on_address_lock
