"""Break-glass on the signaling socket: the ``unredacted`` subscribe and the raw view's life.

The grant itself is made over HTTP (``api/breakglass.py``) by the streams room, which
also finds a socket's open grant. Here a socket proves its principal may use one and
holds an open grant, the relay endpoint is switched to the raw fan-out, and the start
and end of the viewing (with its length) go to the audit trail and to the viewer
(docs/redaction.md).
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from lensguard.access.can import can, refusal
from lensguard.access.principal import Principal, Resource
from lensguard.media.relay import UnredactedEnd, ViewerEndpoint
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store.models import RedactionOverride
from lensguard.streams.room import StreamsRoom
from lensguard.wire import server
from lensguard.wire.server import ErrorCode

OVERRIDE = "redaction_override"


class Socket(Protocol):
    """What break-glass needs from a signaling session."""

    streams: StreamsRoom

    async def error(self, code: ErrorCode, message: str) -> None: ...

    async def send(self, message: dict[str, Any]) -> None: ...

    async def audit(
        self, action: str, device_id: str, outcome: str = "success", **details: Any
    ) -> None: ...


async def open_grant(
    socket: Socket, principal: Principal, device_id: str, mode: str, resource: Resource
) -> RedactionOverride | None:
    """The open grant behind an ``unredacted`` subscribe, or None with the error sent."""
    if mode != "relay":
        await socket.error(ErrorCode.UNSUPPORTED, "unredacted views go through the relay only")
        return None
    if not can(principal, OVERRIDE, resource):
        emit(
            "redaction.override_refused",
            severity=Severity.MEDIUM,
            principal=principal.id,
            device_id=device_id,
        )
        await socket.audit("redaction.override.view_start", device_id, "denied")
        await socket.error(ErrorCode.FORBIDDEN, refusal(principal, OVERRIDE))
        return None
    grant = await socket.streams.active_grant(principal.id, device_id)
    if grant is None:
        await socket.error(
            ErrorCode.NO_GRANT,
            "no open break-glass grant for this device: request one with a reason "
            f"(POST /api/v1/streams/{device_id}/break-glass)",
        )
    return grant


async def start_viewing(
    socket: Socket,
    principal: Principal,
    endpoint: ViewerEndpoint,
    device_id: str,
    grant: RedactionOverride,
) -> None:
    """Serve ``endpoint`` the raw picture until the grant ends; audit and announce it."""
    endpoint.on_unredacted_end = _ended(socket, device_id)
    endpoint.open_unredacted(grant.id, grant.expires_at.timestamp())
    emit(
        "redaction.override_viewing",
        severity=Severity.HIGH,
        principal=principal.id,
        device_id=device_id,
        grant_id=grant.id,
    )
    await socket.audit("redaction.override.view_start", device_id, grant_id=grant.id, mode="relay")
    await socket.send(server.redaction_started(device_id, grant.id, grant.expires_at.isoformat()))


def _ended(socket: Socket, device_id: str) -> UnredactedEnd:
    """Audit the end of a viewing with its length and tell the viewer (if still there)."""

    async def ended(grant_id: str, seconds: float, reason: str) -> None:
        await socket.audit(
            "redaction.override.view_stop",
            device_id,
            grant_id=grant_id,
            seconds=round(seconds, 1),
            reason=reason,
        )
        with contextlib.suppress(Exception):
            await socket.send(server.redaction_ended(device_id, grant_id, reason))

    return ended
