"""One signaling connection: authenticate, then check and route every message.

Peers never talk to each other directly: every offer, answer, candidate and
control command goes through this session, which checks it against ``can()`` and
the pairings the server itself made, binds the sender's identity, and forwards it
over the bus. A client cannot reach a connection it was not paired with, nor speak
for anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from lensguard.access.can import can, refusal
from lensguard.access.principal import Principal, PrincipalKind, Resource
from lensguard.audit.denials import AUTH_REJECTED, DenialRecorder, denial_event
from lensguard.bus.base import Bus, Subscription
from lensguard.errors import LensguardError, Unauthenticated
from lensguard.identity.auditing import audit_event, record
from lensguard.identity.authn import authenticate_bearer, token_expiry
from lensguard.identity.context import IdentityContext
from lensguard.media.relay import DeviceRelay, RelayError, ViewerEndpoint
from lensguard.media.sdpcheck import InvalidSdp, check_remote_sdp
from lensguard.monitor.events import emit
from lensguard.settings import Severity
from lensguard.signaling import breakglass, codes
from lensguard.signaling.hub import SignalingHub
from lensguard.signaling.limits import (
    CONTROL_BURST,
    CONTROLS_PER_SECOND,
    MAX_CANDIDATES_PER_PEER,
    MAX_PEERS,
    MESSAGE_BURST,
    MESSAGES_PER_SECOND,
    TokenBucket,
)
from lensguard.signaling.messages import (
    CONTROL_ACTIONS,
    Answer,
    Auth,
    Candidate,
    ClientMessage,
    Control,
    Leave,
    Offer,
    ProtocolViolation,
    Publish,
    Reauth,
    Subscribe,
    parse,
)
from lensguard.signaling.presence import Attendance
from lensguard.store.devices import get_device, mark_seen
from lensguard.store.models import RedactionOverride, StreamSettings
from lensguard.store.streams import device_settings, stream_policy
from lensguard.store.types import utcnow


class Violation(Exception):
    """Ends the connection with a close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class SignalSession:
    """The server side of one client's signaling socket."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        hub: SignalingHub,
        identity: IdentityContext,
        address: str | None = None,
        denials: DenialRecorder | None = None,
    ) -> None:
        self.id = secrets.token_urlsafe(12)
        self.ws = websocket
        self.hub = hub
        self.bus: Bus = hub.bus
        self.identity = identity
        self.address = address
        self.denials = denials
        self.principal: Principal | None = None
        self.credential: str | None = None
        self.peers: set[str] = set()
        self.watching: dict[str, str] = {}  # device id -> site, for control checks
        self.candidates: Counter[str] = Counter()
        self.messages = TokenBucket(MESSAGES_PER_SECOND, MESSAGE_BURST)
        self.controls = TokenBucket(CONTROLS_PER_SECOND, CONTROL_BURST)
        self.subscriptions: list[Subscription] = []
        self.endpoints: list[tuple[DeviceRelay, ViewerEndpoint]] = []
        self.published = False
        self.pumps: list[asyncio.Task[None]] = []
        self._send_lock = asyncio.Lock()
        self._closed = False
        self._expiry: asyncio.TimerHandle | None = None
        self._presence: Attendance | None = None

    # -- lifecycle -----------------------------------------------------------------

    async def run(self, auth_timeout: float) -> None:
        """Authenticate, then serve until either side closes."""
        try:
            await self._authenticate(auth_timeout)
            self.hub.add(self)
            await self._listen(f"conn:{self.id}")
            principal = self._principal()
            await self.send(
                {
                    "type": "ready",
                    "id": self.id,
                    "principal": {
                        "kind": principal.kind.value,
                        "id": principal.id,
                        "name": principal.name,
                    },
                }
            )
            while True:
                frame = await self._receive_text()
                if not self.messages.take():
                    raise Violation(codes.POLICY_VIOLATION, "message rate exceeded")
                try:
                    message = parse(frame)
                except ProtocolViolation as exc:
                    raise Violation(codes.POLICY_VIOLATION, str(exc)[:120]) from None
                if self.hub.metrics is not None:
                    self.hub.metrics.signaling_messages.labels(type=message.type).inc()
                await self._handle(message)
        except Violation as exc:
            self._count_refused("auth" if exc.code == codes.UNAUTHENTICATED else "violation")
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
        if self._expiry is not None:
            self._expiry.cancel()
        if self._presence is not None:
            await self._presence.end()
        self.hub.remove(self)
        if self.hub.metrics is not None:
            self.hub.metrics.viewers.dec(len(self.watching))
            if self.published:
                self.hub.metrics.online_devices.dec()
        for device_id in list(self.watching):
            await self.audit("stream.view_stop", device_id)
        # Peer connections die with the signaling session: revocation reaches media.
        for relay, endpoint in self.endpoints:
            with contextlib.suppress(Exception):
                await relay.remove_viewer(endpoint)
        for peer in list(self.peers):
            with contextlib.suppress(Exception):
                await self.bus.publish(f"conn:{peer}", {"type": "leave", "from": self.id})
        for task in self.pumps:
            task.cancel()
        for subscription in self.subscriptions:
            await subscription.close()

    # -- authentication and revocation ---------------------------------------------

    async def _receive_text(self) -> str:
        """The next text frame; a binary one is a violation (1003), not a server fault."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is None:
            raise Violation(
                codes.UNSUPPORTED_DATA, "binary frames are not accepted: send JSON text"
            )
        return str(text)

    def _principal(self) -> Principal:
        if self.principal is None:
            raise Violation(codes.UNAUTHENTICATED, "not authenticated")
        return self.principal

    async def _authenticate(self, wait: float) -> None:
        try:
            frame = await asyncio.wait_for(self._receive_text(), wait)
        except TimeoutError:
            raise Violation(
                codes.UNAUTHENTICATED, "authenticate within the first message"
            ) from None
        try:
            message = parse(frame)
        except ProtocolViolation as exc:
            raise Violation(codes.POLICY_VIOLATION, str(exc)[:120]) from None
        if not isinstance(message, Auth):
            raise Violation(codes.UNAUTHENTICATED, "the first message must be auth")
        try:
            self.principal = await authenticate_bearer(self.identity, message.token)
        except LensguardError as exc:
            emit("signal.auth_failed", severity=Severity.MEDIUM, reason=exc.detail)
            await self._denied("signal_auth", None, exc.detail)
            raise Violation(codes.UNAUTHENTICATED, "invalid credential") from None
        self.credential = message.token
        self._arm_expiry()

    def _arm_expiry(self) -> None:
        """Close the socket (4401) when its access token expires, unless reauth came first.

        API keys have no such timer: they live for months and are revoked explicitly.
        """
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        expires = token_expiry(self.credential)
        if expires is None:
            return
        delay = max(0.0, expires - time.time())
        self._expiry = asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._expired())
        )

    async def _expired(self) -> None:
        emit("signal.token_expired", connection=self.id, principal=self._principal().id)
        await self.shutdown(codes.UNAUTHENTICATED, "access token expired; reauth before expiry")

    async def _reauth(self, message: Reauth) -> None:
        """Swap in a fresh token of the same principal; anything else ends the socket."""
        before = self._principal()
        try:
            principal = await authenticate_bearer(self.identity, message.token)
        except LensguardError:
            emit("signal.auth_failed", severity=Severity.MEDIUM, reason="reauth refused")
            await self._denied("signal_reauth", None, "reauth refused", kind=AUTH_REJECTED)
            raise Violation(codes.UNAUTHENTICATED, "invalid credential") from None
        if (principal.kind, principal.id) != (before.kind, before.id):
            emit(
                "signal.reauth_mismatch",
                severity=Severity.HIGH,
                connection=self.id,
                principal=before.id,
                presented=principal.id,
            )
            reason = "reauth must keep the same identity"
            await self._denied("signal_reauth", None, reason, kind=AUTH_REJECTED)
            raise Violation(codes.UNAUTHENTICATED, reason)
        self.credential = message.token
        self._arm_expiry()
        await self.recheck({"reason": "reauth"})
        if not self._closed:
            await self.send({"type": "reauthed", "expires_at": token_expiry(message.token)})

    def concerned_by(self, message: dict[str, Any]) -> bool:
        """Whether a revocation message names this session's principal."""
        principal = self.principal
        if principal is None:
            return False
        return (
            (message.get("sid") is not None and message.get("sid") == principal.session_id)
            or (message.get("user_id") is not None and message.get("user_id") == principal.id)
            or (message.get("device_id") is not None and message.get("device_id") == principal.id)
            or (
                message.get("api_key_id") is not None
                and message.get("api_key_id") == principal.api_key_id
            )
        )

    async def recheck(self, message: dict[str, Any]) -> None:
        """Re-authenticate after a revocation; close if the credential or access is gone."""
        if self.credential is None:
            return
        try:
            principal = await authenticate_bearer(self.identity, self.credential)
        except (Unauthenticated, LensguardError):
            emit("signal.revoked", connection=self.id, reason=message.get("reason"))
            await self.shutdown(codes.UNAUTHENTICATED, "session revoked")
            return
        self.principal = principal
        for device_id, site in self.watching.items():
            if not can(principal, "camera_view", Resource(kind="device", id=device_id, site=site)):
                emit("signal.access_changed", connection=self.id, device_id=device_id)
                await self.shutdown(codes.ACCESS_CHANGED, "access to the stream was withdrawn")
                return
        for relay, endpoint in self.endpoints:
            place = Resource(kind="device", id=relay.device_id, site=relay.site)
            if endpoint.grant_id is not None and not can(principal, breakglass.OVERRIDE, place):
                await endpoint.close_unredacted("access_changed")

    # -- outgoing --------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message to the client."""
        async with self._send_lock:
            if not self._closed:
                await self.ws.send_json(message)

    def _count_refused(self, reason: str) -> None:
        if self.hub.metrics is not None:
            self.hub.metrics.signaling_refused.labels(reason=reason).inc()

    async def error(self, code: str, message: str) -> None:
        self._count_refused(code)
        await self.send({"type": "error", "code": code, "message": message})

    async def _listen(self, channel: str) -> None:
        subscription = await self.bus.subscribe(channel)
        self.subscriptions.append(subscription)
        self.pumps.append(asyncio.create_task(self._pump(subscription)))

    async def _pump(self, subscription: Subscription) -> None:
        async for message in subscription:
            try:
                await self._deliver(message)
            except Exception:
                await self.shutdown(codes.INTERNAL_ERROR, "delivery failed")
                return

    async def _deliver(self, message: dict[str, Any]) -> None:
        """A bus message for this session: apply pairing rules, then pass it on."""
        kind = message.get("type")
        sender = message.get("from")
        if kind == "join" and isinstance(sender, str):
            self._pair(sender)
            await self.bus.publish(
                f"conn:{sender}",
                {"type": "joined", "from": self.id, "device_id": self._principal().id},
            )
            await self.send({k: v for k, v in message.items() if k != "type"} | {"type": "viewer"})
        elif kind == "joined" and isinstance(sender, str):
            self._pair(sender)
            await self.send(
                {"type": "subscribed", "device_id": message.get("device_id"), "peer": sender}
            )
        elif kind in ("offer", "answer", "candidate") and sender in self.peers:
            await self.send(message)
        elif kind == "leave" and isinstance(sender, str):
            self.peers.discard(sender)
            await self.send({"type": "leave", "from": sender})
        elif kind in ("control", "settings") and self.published:
            await self.send(message)
        elif kind == "detections" and sender in self.peers:
            # From the relay endpoint serving this viewer: what the AI chain found.
            if self.hub.metrics is not None:
                self.hub.metrics.detections.inc(len(message.get("items", [])))
            await self.send(message)

    def _pair(self, peer: str) -> None:
        if len(self.peers) >= MAX_PEERS:
            raise Violation(codes.POLICY_VIOLATION, "too many peers")
        self.peers.add(peer)

    # -- incoming --------------------------------------------------------------------

    async def _handle(self, message: ClientMessage) -> None:
        if isinstance(message, Auth):
            raise Violation(codes.POLICY_VIOLATION, "already authenticated")
        if isinstance(message, Reauth):
            await self._reauth(message)
        elif isinstance(message, Publish):
            await self._publish()
        elif isinstance(message, Subscribe):
            await self._subscribe(message)
        elif isinstance(message, (Offer, Answer, Candidate)):
            await self._relay(message)
        elif isinstance(message, Control):
            await self._control(message)
        elif isinstance(message, Leave):
            await self._leave(message)

    async def _publish(self) -> None:
        principal = self._principal()
        async with self.identity.db.transaction() as session:
            device = (
                await get_device(session, device_id=principal.id)
                if principal.kind is PrincipalKind.DEVICE
                else None
            )
            if device is not None:
                await mark_seen(session, device_id=device.id, at=utcnow())
        own = Resource(kind="device", id=device.id, site=device.site) if device else None
        if device is None or not can(principal, "stream_publish", own):
            reason = "only a device may publish, and only its own stream"
            await self._denied("stream_publish", own, reason)
            await self.error("forbidden", reason)
            return
        await self._listen(f"device:{device.id}")
        emit("stream.publish", device_id=device.id, connection=self.id)
        if self.hub.metrics is not None and not self.published:
            self.hub.metrics.online_devices.inc()
        self.published = True
        if self._presence is None:
            self._presence = await self.hub.presence.attend(device.id, self.id)
        await self.send({"type": "published", "device_id": device.id})
        async with self.identity.db.sessions() as session:
            configured = await session.get(StreamSettings, device.id)
        if configured is not None:
            await self.send(device_settings(configured))

    async def _subscribe(self, message: Subscribe) -> None:
        principal = self._principal()
        async with self.identity.db.sessions() as session:
            policy = await stream_policy(session, message.device_id)
        resource = (
            Resource(kind="device", id=policy.device_id, site=policy.site)
            if policy is not None
            else None
        )
        if resource is None or not can(principal, "camera_view", resource):
            # Out of scope and absent look the same: nothing about other sites leaks.
            emit(
                "signal.subscribe_refused",
                severity=Severity.MEDIUM,
                principal=principal.id,
                device_id=message.device_id,
            )
            asked = resource or Resource(kind="device", id=message.device_id)
            why = refusal(principal, "camera_view", resource) if resource else "no such device"
            await self._denied("camera_view", asked, why)
            await self.error("not_found", "no such device")
            return
        grant: RedactionOverride | None = None
        if message.unredacted:
            grant = await breakglass.open_grant(
                self, principal, message.device_id, message.mode, resource
            )
            if grant is None:
                return
        elif message.mode == "direct" and policy is not None and policy.redact_faces:
            # Peer to peer, the server never sees the pictures: it cannot redact them.
            await self.error("redacted", "this stream is redacted: watch it with mode relay")
            return
        if resource.id not in self.watching and self.hub.metrics is not None:
            self.hub.metrics.viewers.inc()
        self.watching[resource.id or ""] = resource.site or ""
        if message.mode == "relay":
            await self._subscribe_relay(message.device_id, grant)
            return
        receivers = await self.bus.publish(
            f"device:{message.device_id}",
            {
                "type": "join",
                "from": self.id,
                "mode": message.mode,
                "principal": {
                    "kind": principal.kind.value,
                    "id": principal.id,
                    "name": principal.name,
                },
            },
        )
        if receivers == 0:
            await self.error("offline", "the device is not connected")
            return
        emit(
            "stream.view_start",
            principal=principal.id,
            device_id=message.device_id,
            mode=message.mode,
        )
        await self.audit("stream.view_start", message.device_id, mode=message.mode)

    async def _subscribe_relay(self, device_id: str, grant: RedactionOverride | None) -> None:
        media = self.hub.media
        if media is None:
            await self.error("unsupported", "this node has no media relay")
            return
        try:
            relay = await media.relay_for(device_id)
        except RelayError as exc:
            await self.error("offline", str(exc))
            return
        endpoint = await relay.add_viewer(self.id, self.control_from_datachannel)
        self.endpoints.append((relay, endpoint))
        if grant is not None:
            await breakglass.start_viewing(self, self._principal(), endpoint, device_id, grant)
        emit("stream.view_start", principal=self._principal().id, device_id=device_id, mode="relay")
        await self.audit("stream.view_start", device_id, mode="relay")

    async def control_from_datachannel(self, frame: str) -> None:
        """A control frame from this viewer's data channel: same checks as signaling."""
        try:
            message = parse(frame)
        except ProtocolViolation as exc:
            await self.error("invalid_control", str(exc)[:120])
            return
        if not isinstance(message, Control):
            await self.error("invalid_control", "the data channel carries control messages only")
            return
        await self._control(message)

    async def _relay(self, message: Offer | Answer | Candidate) -> None:
        if message.to not in self.peers:
            await self.error("unknown_peer", "you are not paired with that connection")
            return
        if isinstance(message, (Offer, Answer)):
            try:
                check_remote_sdp(message.sdp)
            except InvalidSdp as exc:
                await self.error("invalid_sdp", str(exc))
                return
        if isinstance(message, Candidate):
            self.candidates[message.to] += 1
            if self.candidates[message.to] > MAX_CANDIDATES_PER_PEER:
                raise Violation(codes.POLICY_VIOLATION, "too many ICE candidates")
        payload = message.model_dump(exclude={"to"}) | {"from": self.id}
        await self.bus.publish(f"conn:{message.to}", payload)

    async def _control(self, message: Control) -> None:
        principal = self._principal()
        site = self.watching.get(message.device_id)
        if site is None:
            await self.error("not_subscribed", "subscribe to the device before controlling it")
            return
        action = CONTROL_ACTIONS[message.command]
        resource = Resource(kind="device", id=message.device_id, site=site)
        if not can(principal, action, resource):
            emit(
                "control.refused",
                severity=Severity.MEDIUM,
                principal=principal.id,
                role=principal.role,
                device_id=message.device_id,
                command=message.command,
            )
            # Coalesced like every refusal (no seq): a flood of them stays a few entries.
            reason = f"your role does not allow {action}"
            await self._denied(
                action, resource, reason, kind="control.command", command=message.command
            )
            await self.error("forbidden", reason)
            return
        if not self.controls.take():
            emit("control.rate_limited", principal=principal.id, device_id=message.device_id)
            await self.error("rate_limited", "too many control commands")
            return
        emit(
            "control.command",
            principal=principal.id,
            device_id=message.device_id,
            command=message.command,
            seq=message.seq,
        )
        await self.audit(
            "control.command",
            message.device_id,
            command=message.command,
            seq=message.seq,
            args=message.args.model_dump(),
        )
        await self.bus.publish(
            f"device:{message.device_id}",
            {
                "type": "control",
                # Bound by the server: the device learns who really sent the command.
                "from": {
                    "kind": principal.kind.value,
                    "id": principal.id,
                    "name": principal.name,
                    "connection": self.id,
                },
                "command": message.command,
                "args": message.args.model_dump(),
                "seq": message.seq,
            },
        )

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

    async def _denied(
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

    async def _leave(self, message: Leave) -> None:
        targets = [message.to] if message.to else list(self.peers)
        for peer in targets:
            if peer in self.peers:
                self.peers.discard(peer)
                await self.bus.publish(f"conn:{peer}", {"type": "leave", "from": self.id})
