"""Per-client-address request rate limit across every HTTP route (429 + Retry-After)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from lensguard.clock import Clock, SystemClock
from lensguard.errors import RateLimited
from lensguard.guard.blocklist import THROTTLED
from lensguard.guard.client import Network, client_address
from lensguard.guard.ratelimit import Decision, MemoryRateLimiter, RateLimiter
from lensguard.logs import get_logger
from lensguard.problem_json import error_response
from lensguard.wire.closes import Close

log = get_logger("lensguard.guard")
WINDOW_SECONDS = 60
WARN_EVERY_SECONDS = 30.0


class RequestRateLimitMiddleware:
    """Count every request per client address; refuse beyond ``per_minute``.

    When the shared store (Redis) cannot be reached, counting falls back to this
    node's memory: the limit still holds per node, and the probes keep answering so
    ``/readyz`` can say what is wrong. Stores that guard identity (revocation) fail
    closed instead; a general request budget is not worth an outage.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        per_minute: int,
        trusted_proxies: tuple[Network, ...],
        clock: Clock | None = None,
        throttled_per_minute: int = 60,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.throttled_per_minute = throttled_per_minute
        self.clock = clock or SystemClock()
        self.fallback = MemoryRateLimiter(clock=self.clock.time)
        self.per_minute = per_minute
        self.trusted = trusted_proxies
        self._warned_at = 0.0

    async def _hit(self, key: str, limit: int) -> Decision:
        try:
            return await self.limiter.hit(key, limit=limit, window=WINDOW_SECONDS)
        except Exception as exc:
            now = self.clock.monotonic()
            if now - self._warned_at > WARN_EVERY_SECONDS:
                self._warned_at = now
                log.warning("rate_limit_store_unavailable", error=type(exc).__name__)
            return await self.fallback.hit(key, limit=limit, window=WINDOW_SECONDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.trusted)
        if scope.get("state", {}).get(THROTTLED):
            decision = await self._hit(f"throttled:{address}", self.throttled_per_minute)
        else:
            decision = await self._hit(f"ip:{address}", self.per_minute)
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        log.warning("rate_limited", client=address, count=decision.count)
        if scope["type"] == "websocket":
            await send(
                {
                    "type": "websocket.close",
                    "code": Close.TRY_AGAIN_LATER.value,
                    "reason": "try again later",
                }
            )
            return
        err = RateLimited(
            f"more than {self.per_minute} requests a minute from this address",
            retry_after=decision.retry_after,
        )
        await error_response(err, instance=scope.get("path"))(scope, receive, send)
