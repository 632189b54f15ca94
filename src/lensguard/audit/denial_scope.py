"""Which recorder and caller address the refusals of the current request belong to.

``authorize`` runs deep inside routes and services with only a principal in hand. The
middleware binds the app's ``DenialRecorder`` and the caller's address for the
request, and writes what was noted before the request ends, so an entry does not
wait for the periodic flush.
"""

from __future__ import annotations

from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

from lensguard.access.principal import Principal, Resource
from lensguard.audit.denials import DenialRecorder, denial_event
from lensguard.guard.client import Network, client_address

_bound: ContextVar[tuple[DenialRecorder, str] | None] = ContextVar(
    "lensguard_denials", default=None
)


def note_denial(
    principal: Principal | None,
    action: str,
    resource: Resource | None = None,
    *,
    reason: str,
    kind: str | None = None,
) -> None:
    """Note a refusal with the request's recorder; outside a request (CLI) nothing is noted."""
    bound = _bound.get()
    if bound is None:
        return
    recorder, address = bound
    recorder.note(
        denial_event(principal, action, resource, reason=reason, address=address, kind=kind)
    )


class DenialScopeMiddleware:
    """Bind the recorder and the caller's address for each HTTP request and socket."""

    def __init__(
        self, app: ASGIApp, *, recorder: DenialRecorder, trusted_proxies: tuple[Network, ...]
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = _bound.set((self.recorder, client_address(scope, self.trusted_proxies)))
        try:
            await self.app(scope, receive, send)
        finally:
            _bound.reset(token)
            await self.recorder.write_pending()
