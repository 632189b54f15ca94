"""Feed request metrics: count and time every HTTP request by its route template."""

from __future__ import annotations

import time

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lensguard.monitor.metrics import Metrics

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope, routes: list[BaseRoute]) -> str:
    """The matched route's path template, or ``unmatched``: labels stay bounded."""
    route = scope.get("route")
    if route is None:
        # Refused before routing (body limits): find the route it was meant for.
        for candidate in routes:
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class MetricsMiddleware:
    """Count requests (method, route, status), time them, and count 429s from routes."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self._observe(scope, receive, send)

    async def _observe(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500  # what the client sees when the app raises before answering
        started = time.perf_counter()

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            route = route_template(scope, self.routes)
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.latency.labels(route=route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
            if status == 429:
                self.metrics.rate_limited.labels(limiter="route").inc()
