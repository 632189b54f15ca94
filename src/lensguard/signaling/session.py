"""One signaling connection: authenticate, then check and route every message.

Peers never talk to each other directly: every offer, answer, candidate and
control command goes through this session, which checks it against ``can()`` and
the pairings the server itself made, binds the sender's identity, and forwards it
over the bus. A client cannot reach a connection it was not paired with, nor speak
for anyone else.

The session owns the socket, its bus subscriptions and its audit trail; who is on
the socket lives in ``credential.py`` and what each message does in ``dispatch.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from lensguard.access.principal import Principal, Resource
from lensguard.audit.denials import DenialRecorder, denial_event
from lensguard.bus.base import Bus, Subscription
from lensguard.clock import Clock, SystemClock
from lensguard.identity.auditing import audit_event, record
from lensguard.identity.context import IdentityContext
from lensguard.media.relay import DeviceRelay, ViewerEndpoint
from lensguard.monitor.events import emit
from lensguard.pki.binding import DeviceBinding
from lensguard.settings import Severity
from lensguard.signaling.credential import Credential
from lensguard.signaling.dispatch import Dispatcher
from lensguard.signaling.hub import SignalingHub
from lensguard.signaling.limits import MESSAGE_BURST, MESSAGES_PER_SECOND, TokenBucket
from lensguard.signaling.violation import Violation
from lensguard.streams.room import StreamsRoom
from lensguard.wire import server
from lensguard.wire.client import parse_client_message
from lensguard.wire.closes import Close
from lensguard.wire.frames import ProtocolError
from lensguard.wire.server import ErrorCode

__all__ = ["SignalSession", "Violation"]


class SignalSession:
    """The server side of one client's signaling socket."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        hub: SignalingHub,
        identity: IdentityContext,
        streams: StreamsRoom,
        address: str | None = None,
        denials: DenialRecorder | None = None,
        clock: Clock | None = None,
        binding: DeviceBinding | None = None,
    ) -> None:
        self.id = secrets.token_urlsafe(12)
        self.ws = websocket
        self.hub = hub
        self.bus: Bus = hub.bus
        self.identity = identity
        self.streams = streams
        self.address = address
        self.denials = denials
        self.clock: Clock = clock or SystemClock()
        self.messages = TokenBucket(MESSAGES_PER_SECOND, MESSAGE_BURST, self.clock.monotonic)
        self.subscriptions: list[Subscription] = []
        self.pumps: list[asyncio.Task[None]] = []
        self._send_lock = asyncio.Lock()
        self._closed = False
        self.credential = Credential(self, self.clock, binding)
        self.dispatch = Dispatcher(self)

    @property
    def principal(self) -> Principal | None:
        """Who is on this socket (None until the first message authenticated it)."""
        return self.credential.principal

    @property
    def closed(self) -> bool:
        """Whether the socket was closed (or is being closed) by this side."""
        return self._closed

    def require(self) -> Principal:
        """The authenticated principal; a violation before authentication."""
        return self.credential.require()

    def viewing(self) -> tuple[dict[str, str], list[tuple[DeviceRelay, ViewerEndpoint]]]:
        """The streams this socket watches (device id -> site) and its relay endpoints."""
        return self.dispatch.watching, self.dispatch.endpoints

    # -- lifecycle -----------------------------------------------------------------

    async def run(self, auth_timeout: float) -> None:
        """Authenticate, then serve until either side closes."""
        try:
            await self.credential.authenticate(auth_timeout)
            self.hub.add(self)
            await self.listen(f"conn:{self.id}")
            principal = self.require()
            await self.send(
                server.ready(
                    self.id,
                    server.principal_info(principal.kind.value, principal.id, principal.name),
                )
            )
            while True:
                frame = await self.receive_text()
                if not self.messages.take():
                    raise Violation(Close.POLICY_VIOLATION, "message rate exceeded")
                message = parse_client_message(frame)
                if isinstance(message, ProtocolError):
                    raise Violation.of(message)
                if self.hub.metrics is not None:
                    self.hub.metrics.signaling_messages.labels(type=message.type).inc()
                await self.dispatch.handle(message)
        except Violation as exc:
            self._count_refused("auth" if exc.code == Close.UNAUTHENTICATED else "violation")
            emit(
                "signal.violation",
                severity=Severity.MEDIUM,
                connection=self.id,
                principal=self.principal.id if self.principal else None,
                reason=exc.reason,
            )
            await self.shutdown(exc.code, exc.reason)
        except (WebSocketDisconnect, RuntimeError):
            await self.shutdown(1000, "")
        finally:
            await self._cleanup()

    async def shutdown(self, code: int, reason: str) -> None:
        """Close the socket once (safe to call from any task)."""
        if self._closed:
            return
        self._closed = True
        if self.ws.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.close(code=code, reason=reason[:120])

    async def _cleanup(self) -> None:
        self.credential.cancel()
        await self.dispatch.end_presence()
        self.hub.remove(self)
        await self.dispatch.close()
        for task in self.pumps:
            task.cancel()
        for subscription in self.subscriptions:
            await subscription.close()

    # -- revocation (called by the hub) ----------------------------------------------

    def concerned_by(self, message: dict[str, Any]) -> bool:
        """Whether a revocation message names this session's principal."""
        return self.credential.concerned_by(message)

    async def recheck(self, message: dict[str, Any]) -> None:
        """Re-authenticate after a revocation; close if the credential or access is gone."""
        await self.credential.recheck(message)

    # -- incoming --------------------------------------------------------------------

    async def receive_text(self) -> str:
        """The next text frame; a binary one is a violation (1003), not a server fault."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is None:
            raise Violation(
                Close.UNSUPPORTED_DATA, "binary frames are not accepted: send JSON text"
            )
        return str(text)

    async def listen(self, channel: str) -> None:
        """Pass messages published on a bus channel through the dispatcher's rules."""
        subscription = await self.bus.subscribe(channel)
        self.subscriptions.append(subscription)
        self.pumps.append(asyncio.create_task(self._pump(subscription)))

    async def _pump(self, subscription: Subscription) -> None:
        async for message in subscription:
            try:
                await self.dispatch.deliver(message)
            except Exception:
                await self.shutdown(Close.INTERNAL_ERROR, "delivery failed")
                return

    # -- outgoing --------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message to the client."""
        async with self._send_lock:
            if not self._closed:
                await self.ws.send_json(message)

    def _count_refused(self, reason: str) -> None:
        if self.hub.metrics is not None:
            self.hub.metrics.signaling_refused.labels(reason=reason).inc()

    async def error(
        self,
        code: ErrorCode,
        message: str,
        *,
        retry_after: int | None = None,
        holder: dict[str, Any] | None = None,
    ) -> None:
        """Tell the client a request was refused (the socket stays open)."""
        self._count_refused(code.value)
        await self.send(server.error(code, message, retry_after=retry_after, holder=holder))

    async def audit(
        self, action: str, device_id: str, outcome: str = "success", **details: Any
    ) -> None:
        """Record a view or command in the audit trail (its own transaction)."""
        try:
            event = audit_event(
                action,
                outcome,
                by=self.principal,
                address=self.address,
                resource_type="device",
                resource_id=device_id,
                connection=self.id,
                **details,
            )
            await record(self.identity, event)
        except Exception as exc:
            # The action already happened; losing its record must be loud, not fatal.
            emit(
                "audit.append_failed",
                severity=Severity.HIGH,
                action=action,
                error=type(exc).__name__,
            )

    async def denied(
        self,
        action: str,
        resource: Resource | None,
        reason: str,
        *,
        kind: str | None = None,
        **details: Any,
    ) -> None:
        """Put a refusal on the audit trail, coalesced with its repeats (never raises)."""
        if self.denials is None:
            return
        event = denial_event(
            self.principal,
            action,
            resource,
            reason=reason,
            address=self.address,
            kind=kind,
            **details,
        )
        await self.denials.record(event)
