"""Per-client-address request rate limit across every HTTP route (429 + Retry-After)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from lensguard.api.problems import error_response
from lensguard.errors import RateLimited, ServiceUnavailable
from lensguard.guard.client import Network, client_address
from lensguard.guard.ratelimit import RateLimiter
from lensguard.logs import get_logger

log = get_logger("lensguard.guard")
WINDOW_SECONDS = 60


class RequestRateLimitMiddleware:
    """Count every request per client address; refuse beyond ``per_minute``.

    When the shared store cannot be reached the request is refused (503): limits
    that silently vanish under load are no limits.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        per_minute: int,
        trusted_proxies: tuple[Network, ...],
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.per_minute = per_minute
        self.trusted = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.trusted)
        try:
            decision = await self.limiter.hit(
                f"ip:{address}", limit=self.per_minute, window=WINDOW_SECONDS
            )
        except Exception:
            log.exception("rate_limit_store_unavailable")
            err: RateLimited | ServiceUnavailable = ServiceUnavailable(
                "the rate-limit store is unreachable; try again shortly"
            )
        else:
            if decision.allowed:
                await self.app(scope, receive, send)
                return
            log.warning("rate_limited", client=address, count=decision.count)
            err = RateLimited(
                f"more than {self.per_minute} requests a minute from this address",
                retry_after=decision.retry_after,
            )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013, "reason": "try again later"})
            return
        await error_response(err, instance=scope.get("path"))(scope, receive, send)
