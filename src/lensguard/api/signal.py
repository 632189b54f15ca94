"""``/v1/signal``: the signaling WebSocket (protocol in docs/signaling.md)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket

from lensguard.access.declare import IN_BAND
from lensguard.api.deps import requires
from lensguard.guard.client import client_address
from lensguard.monitor.events import emit
from lensguard.pki.binding import DeviceBinding
from lensguard.services import Services
from lensguard.severity import Severity
from lensguard.signaling.session import SignalSession
from lensguard.wire.closes import Close

router = APIRouter()


def origin_allowed(origin: str | None, websocket: WebSocket, allowed: list[str]) -> bool:
    """Browsers always send Origin: it must be our own or configured. Agents send none."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    host = websocket.headers.get("host", "")
    own = {f"https://{host}", f"http://{host}"} if host else set()
    normalised = f"{parts.scheme}://{parts.netloc}".lower()
    return normalised in own or normalised in {o.rstrip("/").lower() for o in allowed}


@router.websocket("/v1/signal", dependencies=[requires(IN_BAND)])
async def signal(websocket: WebSocket) -> None:
    """Authenticate with the first message, then exchange signaling messages."""
    services: Services = websocket.app.state.services
    settings = services.settings
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, websocket, settings.server.allowed_origins):
        emit("signal.origin_refused", severity=Severity.MEDIUM, origin=origin)
        # Closing before accept turns into an HTTP 403 on the handshake.
        await websocket.close(code=Close.POLICY_VIOLATION, reason="origin not allowed")
        return
    await websocket.accept()
    limits = settings.signaling
    if not services.hub.claim(limits.max_sockets_per_node):
        # Accepted first: a close before accept would reach the client as a bare HTTP 403.
        emit("signal.capacity_refused", severity=Severity.HIGH, open=services.hub.open_sockets)
        if services.hub.metrics is not None:
            services.hub.metrics.signaling_refused.labels(reason="capacity").inc()
        reason = f"node at capacity; retry_after={limits.capacity_retry_seconds}"
        await websocket.close(code=Close.TRY_AGAIN_LATER, reason=reason)
        return
    try:
        await _serve(websocket, services)
    finally:
        services.hub.release()


async def _serve(websocket: WebSocket, services: Services) -> None:
    settings = services.settings
    address = client_address(websocket.scope, services.trusted_proxies)
    session = SignalSession(
        websocket,
        hub=services.hub,
        identity=services,
        streams=services.streams,
        address=address,
        denials=services.denials,
        clock=services.clock,
        binding=DeviceBinding.of(services.db, settings.security.pki.device_tls, websocket.scope),
    )
    await session.run(settings.signaling.auth_timeout)
