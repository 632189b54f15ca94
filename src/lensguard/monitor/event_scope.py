"""``EventScopeMiddleware``: the app's publisher receives every event raised while it serves.

It wraps every ASGI scope (HTTP, WebSocket and the lifespan, whose tasks inherit the
binding), and sits outermost so that the guard middlewares' events are covered too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from lensguard.monitor.events import bound
from lensguard.monitor.publisher import EventPublisher


class EventScopeMiddleware:
    """Binds ``publisher`` as the target of ``emit`` for everything this app runs."""

    def __init__(self, app: ASGIApp, *, publisher: EventPublisher) -> None:
        self.app = app
        self.publisher = publisher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with bound(self.publisher):
            await self.app(scope, receive, send)
