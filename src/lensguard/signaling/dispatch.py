"""What a signaling socket may do once authenticated: check and route every message.

Client messages (publish, subscribe, offer/answer/candidate, leave) are
checked against ``can()`` and the pairings the server itself made, then forwarded
over the bus with the sender's identity bound; bus messages for the socket pass the
same pairing rules on their way to the client. Control commands and the control lock
are ``controlling.py``'s.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import TYPE_CHECKING, Any

from lensguard.access.can import can, refusal
from lensguard.access.principal import PrincipalKind, Resource
from lensguard.media.relay import DeviceRelay, RelayError, ViewerEndpoint
from lensguard.media.sdpcheck import InvalidSdp, check_remote_sdp
from lensguard.monitor.events import emit
from lensguard.settings import Severity
from lensguard.signaling import breakglass
from lensguard.signaling.controlling import Controller
from lensguard.signaling.limits import MAX_CANDIDATES_PER_PEER, MAX_PEERS
from lensguard.signaling.presence import Attendance
from lensguard.signaling.violation import Violation
from lensguard.store.devices import get_device, mark_seen
from lensguard.store.models import RedactionOverride
from lensguard.store.streams import device_settings
from lensguard.wire import pairing, server
from lensguard.wire.client import (
    Answer,
    Auth,
    Candidate,
    ClientMessage,
    Control,
    ControlRelease,
    ControlTake,
    Leave,
    Offer,
    Publish,
    Reauth,
    Subscribe,
    parse_client_message,
)
from lensguard.wire.closes import Close
from lensguard.wire.frames import ProtocolError
from lensguard.wire.kinds import Kind, kind_of
from lensguard.wire.server import ErrorCode

if TYPE_CHECKING:
    from lensguard.signaling.session import SignalSession


class Dispatcher:
    """The routing state of one socket (peers, streams watched) and its message handlers."""

    def __init__(self, session: SignalSession) -> None:
        self.session = session
        self.peers: set[str] = set()
        self.watching: dict[str, str] = {}  # device id -> site, for control checks
        self.candidates: Counter[str] = Counter()
        self.peer_devices: dict[str, str] = {}  # paired connection -> the device it serves
        self.controller = Controller(session, self.watching)
        self.endpoints: list[tuple[DeviceRelay, ViewerEndpoint]] = []
        self.published = False
        self.presence: Attendance | None = None

    # -- bus messages for this socket ------------------------------------------------

    async def deliver(self, message: dict[str, Any]) -> None:
        """A bus message for this session: apply pairing rules, then pass it on."""
        session = self.session
        kind = kind_of(message)
        sender = message.get("from")
        if kind is Kind.JOIN and isinstance(sender, str):
            self._pair(sender)
            await session.bus.publish(
                f"conn:{sender}", pairing.joined(session.id, session.require().id)
            )
            await session.send(server.viewer(sender, message["mode"], message["principal"]))
        elif kind is Kind.JOINED and isinstance(sender, str):
            self._pair(sender)
            device_id = message.get("device_id")
            if isinstance(device_id, str):
                self.peer_devices[sender] = device_id
            await session.send(server.subscribed(device_id, sender))
        elif kind in (Kind.OFFER, Kind.ANSWER, Kind.CANDIDATE) and sender in self.peers:
            await session.send(message)
        elif kind is Kind.LEAVE and isinstance(sender, str):
            self.peers.discard(sender)
            await session.send(server.leave_from(sender))
        elif kind in (Kind.CONTROL, Kind.SETTINGS) and self.published:
            await session.send(message)
        elif kind is Kind.ERROR and sender in self.peers:
            # A relay endpoint refusing what this viewer sent it (an offer it cannot take).
            await session.send(message)
        elif kind is Kind.DETECTIONS and sender in self.peers:
            # From the relay endpoint serving this viewer: what the AI chain found.
            if session.hub.metrics is not None:
                session.hub.metrics.detections.inc(len(message.get("items", [])))
            await session.send(message)

    async def holder_changed(self, message: dict[str, Any]) -> None:
        """A device's control lock changed hands (any node): tell this socket if it watches."""
        device_id = message.get("device_id")
        if not isinstance(device_id, str) or device_id not in self.watching:
            return
        self.controller.holder_changed(message)
        await self.session.send(message)

    async def pose_changed(self, message: dict[str, Any]) -> None:
        """A camera was moved (any node): tell this socket if it watches it."""
        device_id = message.get("device_id")
        if isinstance(device_id, str) and device_id in self.watching:
            await self.session.send(message)

    def _pair(self, peer: str) -> None:
        if len(self.peers) >= MAX_PEERS:
            raise Violation(Close.POLICY_VIOLATION, "too many peers")
        self.peers.add(peer)

    # -- client messages -------------------------------------------------------------

    async def handle(self, message: ClientMessage) -> None:
        """One parsed client message after authentication."""
        if isinstance(message, Auth):
            raise Violation(Close.POLICY_VIOLATION, "already authenticated")
        if isinstance(message, Reauth):
            await self.session.credential.reauth(message)
        elif isinstance(message, Publish):
            await self._publish()
        elif isinstance(message, Subscribe):
            await self._subscribe(message)
        elif isinstance(message, (Offer, Answer, Candidate)):
            await self._relay(message)
        elif isinstance(message, Control):
            await self.controller.control(message)
        elif isinstance(message, ControlTake):
            await self.controller.take(message)
        elif isinstance(message, ControlRelease):
            await self.controller.release(message)
        elif isinstance(message, Leave):
            await self._leave(message)

    async def _publish(self) -> None:
        session = self.session
        principal = session.require()
        async with session.identity.db.transaction() as db:
            device = (
                await get_device(db, device_id=principal.id)
                if principal.kind is PrincipalKind.DEVICE
                else None
            )
            if device is not None:
                await mark_seen(db, device_id=device.id, at=session.clock.now())
        own = Resource(kind="device", id=device.id, site=device.site) if device else None
        if device is None or not can(principal, "stream_publish", own):
            reason = "only a device may publish, and only its own stream"
            await session.denied("stream_publish", own, reason)
            await session.error(ErrorCode.FORBIDDEN, reason)
            return
        await session.listen(f"device:{device.id}")
        emit(
            "stream.publish",
            principal=principal.id,
            address=session.address,
            device_id=device.id,
            connection=session.id,
        )
        if session.hub.metrics is not None and not self.published:
            session.hub.metrics.online_devices.inc()
        self.published = True
        if self.presence is None:
            self.presence = await session.hub.presence.attend(device.id, session.id)
            session.hub.published(device.id, session.id)
        await session.send(server.published(device.id))
        configured = await session.streams.settings(device.id)
        if configured is not None:
            await session.send(device_settings(configured))

    async def _subscribe(self, message: Subscribe) -> None:
        session = self.session
        principal = session.require()
        policy = await session.streams.policy(message.device_id)
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
            await session.denied("camera_view", asked, why)
            await session.error(ErrorCode.NOT_FOUND, "no such device")
            return
        grant: RedactionOverride | None = None
        if message.unredacted:
            grant = await breakglass.open_grant(
                session, principal, message.device_id, message.mode, resource
            )
            if grant is None:
                return
        elif message.mode == "direct" and policy is not None and policy.redact_faces:
            # Peer to peer, the server never sees the pictures: it cannot redact them.
            await session.error(
                ErrorCode.REDACTED, "this stream is redacted: watch it with mode relay"
            )
            return
        if message.mode == "relay":
            if await self._subscribe_relay(message.device_id, grant):
                self._watch(resource)
                await self._tell_holder(message.device_id)
            return
        self._watch(resource)
        receivers = await session.bus.publish(
            f"device:{message.device_id}",
            pairing.join(
                session.id,
                message.mode,
                server.principal_info(principal.kind.value, principal.id, principal.name),
            ),
        )
        if receivers == 0:
            await session.error(ErrorCode.OFFLINE, "the device is not connected")
            return
        emit(
            "stream.view_start",
            principal=principal.id,
            device_id=message.device_id,
            mode=message.mode,
        )
        await session.audit("stream.view_start", message.device_id, mode=message.mode)
        await self._tell_holder(message.device_id)

    async def _tell_holder(self, device_id: str) -> None:
        """Who drives the device now, and where its camera points, for a new watcher
        (an unknown holder is said as nobody; an unknown pose is not said)."""
        hub = self.session.hub
        try:
            holder = await hub.control.current(device_id)
        except Exception as exc:
            emit("control.lock_failed", device_id=device_id, error=type(exc).__name__)
            holder = None
        told = server.control_holder(device_id, holder, "current")
        hub.lock_watch.heard(told)
        await self.session.send(told)
        try:
            pose = await hub.poses.current(device_id)
        except Exception as exc:
            emit("control.pose_failed", device_id=device_id, error=type(exc).__name__)
            pose = None
        if pose is not None:
            await self.session.send(server.camera_pose(device_id, pose, "current"))

    def _watch(self, resource: Resource) -> None:
        if resource.id not in self.watching and self.session.hub.metrics is not None:
            self.session.hub.metrics.viewers.inc()
        self.watching[resource.id or ""] = resource.site or ""

    async def _subscribe_relay(self, device_id: str, grant: RedactionOverride | None) -> bool:
        """Add this viewer to the device's relay; False (and an error sent) when refused."""
        session = self.session
        media = session.hub.media
        if media is None:
            await session.error(ErrorCode.UNSUPPORTED, "this node has no media relay")
            return False
        try:
            relay = await media.relay_for(device_id)
        except RelayError as exc:
            await session.error(ErrorCode.OFFLINE, str(exc))
            return False
        full = media.refusal(relay)
        if full is not None:
            # Those already watching keep their picture; the newcomer is told when to retry.
            emit(
                "stream.capacity_refused",
                severity=Severity.HIGH,
                principal=session.require().id,
                device_id=device_id,
                reason=full,
            )
            retry = media.limits.retry_after
            await session.error(ErrorCode.CAPACITY, f"{full}; try again later", retry_after=retry)
            return False
        endpoint = await relay.add_viewer(session.id, self.control_from_datachannel)
        self.endpoints.append((relay, endpoint))
        if grant is not None:
            await breakglass.start_viewing(session, session.require(), endpoint, device_id, grant)
        emit("stream.view_start", principal=session.require().id, device_id=device_id, mode="relay")
        await session.audit("stream.view_start", device_id, mode="relay")
        return True

    async def control_from_datachannel(self, frame: str) -> None:
        """A control frame from this viewer's data channel: same checks as signaling."""
        message = parse_client_message(frame)
        if isinstance(message, ProtocolError):
            await self.session.error(ErrorCode.INVALID_CONTROL, message.reason[:120])
            return
        if not isinstance(message, Control):
            await self.session.error(
                ErrorCode.INVALID_CONTROL, "the data channel carries control messages only"
            )
            return
        await self.controller.control(message)

    async def _relay(self, message: Offer | Answer | Candidate) -> None:
        if message.to not in self.peers:
            await self.session.error(
                ErrorCode.UNKNOWN_PEER, "you are not paired with that connection"
            )
            return
        if isinstance(message, (Offer, Answer)):
            try:
                check_remote_sdp(message.sdp)
            except InvalidSdp as exc:
                await self.session.error(ErrorCode.INVALID_SDP, str(exc))
                return
        if isinstance(message, Candidate):
            self.candidates[message.to] += 1
            if self.candidates[message.to] > MAX_CANDIDATES_PER_PEER:
                raise Violation(Close.POLICY_VIOLATION, "too many ICE candidates")
        payload = server.forwarded(message, self.session.id)
        await self.session.bus.publish(f"conn:{message.to}", payload)

    async def _leave(self, message: Leave) -> None:
        targets = [message.to] if message.to else list(self.peers)
        for peer in targets:
            if peer in self.peers:
                self.peers.discard(peer)
                await self.session.bus.publish(f"conn:{peer}", server.leave_from(self.session.id))
            device_id = self.peer_devices.pop(peer, None)
            if device_id is not None:
                # Leaving the device's pairing gives up driving it.
                await self.controller.let_go(device_id, "left")

    # -- the end ---------------------------------------------------------------------

    async def end_presence(self) -> None:
        """The device is no longer online through this socket."""
        if self.presence is not None:
            await self.presence.end()
            self.session.hub.unpublished(self.presence.device_id, self.session.id)

    async def close(self) -> None:
        """Stop every view (audited), drop relay endpoints, and tell paired peers."""
        session = self.session
        if session.hub.metrics is not None:
            session.hub.metrics.viewers.dec(len(self.watching))
            if self.published:
                session.hub.metrics.online_devices.dec()
        # Open gestures are written and locks given up before the views end.
        await self.controller.close()
        for device_id in list(self.watching):
            await session.audit("stream.view_stop", device_id)
        # Peer connections die with the signaling session: revocation reaches media.
        for relay, endpoint in self.endpoints:
            with contextlib.suppress(Exception):
                await relay.remove_viewer(endpoint)
        for peer in list(self.peers):
            with contextlib.suppress(Exception):
                await session.bus.publish(f"conn:{peer}", server.leave_from(session.id))
