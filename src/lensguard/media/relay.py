"""The relay media node: one upstream peer per device, one downstream peer per viewer.

The node joins a device's stream like any viewer would (through the signaling
bus, so the device may be connected to another server node), receives its video
once, and fans the encoded frames out to every viewer on this node. Viewers'
control commands arrive on a data channel and go through their own signaling
session's checks (``can()``, rate limit, bound identity) before reaching the
device.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCDataChannel,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
)

from lensguard.bus.base import Bus
from lensguard.bus.channels import OVERRIDES, STREAM_CONFIG
from lensguard.bus.follow import follow
from lensguard.clock import Clock, SystemClock, Timer
from lensguard.logs import get_logger
from lensguard.media.fanout import EncodedFanout
from lensguard.media.ice import IcePolicy
from lensguard.media.inbox import BusInbox
from lensguard.media.passthrough import (
    Packet,
    PacketTrack,
    attach_passthrough,
    redirect_keyframe_requests,
    request_keyframe,
)
from lensguard.media.processing import ProcessingStage
from lensguard.media.sdpcheck import InvalidSdp
from lensguard.media.thumbnail import Thumbnails
from lensguard.store.streams import DEFAULT_BITRATE, StreamPolicy
from lensguard.vision.processor import Chain
from lensguard.vision.registry import build_chain
from lensguard.wire import pairing, server
from lensguard.wire.kinds import Kind, kind_of
from lensguard.wire.server import ErrorCode

log = get_logger("lensguard.media")
RELAY_MIME = "video/vp8"
REDACTION = ["face_detect", "pixelate_faces"]
JOIN_TIMEOUT = 10.0
DETECTIONS_INTERVAL = 0.2
ANSWER_TIMEOUT = 15.0
IDLE_GRACE = 10.0
NODE_PRINCIPAL = server.principal_info("system", "media-node", "lensguard media relay")
ControlHandler = Callable[[str], Awaitable[None]]
SettingsLoader = Callable[[str], Awaitable[StreamPolicy | None]]
ChainBuilder = Callable[[Sequence[str]], Chain]
UnredactedEnd = Callable[[str, float, str], Awaitable[None]]
DetectionListener = Callable[[int | None, list[Any]], None]


def relay_codecs() -> list[RTCRtpCodecCapability]:
    """VP8 (and its retransmissions): what the relay receives and forwards unchanged.

    Forwarding without transcoding needs one codec on both sides; VP8 is the one
    every browser and aiortc agent speaks.
    """
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in codecs if c.mimeType.lower() in (RELAY_MIME, "video/rtx")]


class RelayError(RuntimeError):
    """Raised when the device cannot be reached or does not answer."""


class ViewerEndpoint:
    """The node's peer connection towards one viewer."""

    def __init__(self, relay: DeviceRelay, viewer_conn: str, on_control: ControlHandler) -> None:
        self.relay = relay
        self.viewer_conn = viewer_conn
        self.inbox = BusInbox(relay.bus, "media")
        self.inbox.on_message = self._on_message
        self.pc: RTCPeerConnection | None = None
        self.track: PacketTrack | None = None
        self._on_control = on_control
        # Which encoding this viewer gets: the processed one, or (break-glass) the raw one.
        self.source: EncodedFanout = relay.fanout
        self.grant_id: str | None = None
        self._unredacted_since = 0.0
        self._expiry: Timer | None = None
        self.on_unredacted_end: UnredactedEnd | None = None

    async def start(self) -> None:
        await self.inbox.open()
        await self.relay.bus.publish(
            f"conn:{self.viewer_conn}", pairing.joined(self.inbox.id, self.relay.device_id)
        )

    async def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("from") != self.viewer_conn:
            return
        kind = kind_of(message)
        if kind is Kind.OFFER and self.pc is None:
            try:
                await self._answer(str(message.get("sdp", "")))
            except InvalidSdp as exc:
                # Told, not left waiting for an answer that will never come.
                log.warning("relay_offer_refused", device_id=self.relay.device_id)
                await self.relay.bus.publish(
                    f"conn:{self.viewer_conn}",
                    server.error(ErrorCode.INVALID_SDP, str(exc)) | {"from": self.inbox.id},
                )
        elif kind is Kind.LEAVE:
            await self.relay.remove_viewer(self)

    async def _answer(self, sdp: str) -> None:
        ice = self.relay.ice
        offer = ice.remote_description(sdp, "offer")  # InvalidSdp: the viewer is told
        pc = RTCPeerConnection(ice.configuration())
        self.pc = pc
        pc.on("datachannel", self._on_datachannel)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.relay.remove_viewer(self)

        # Created before the offer is applied, so it is the transceiver the offer's video
        # line binds to, and its codec preference (the publisher's) shapes the answer.
        self.track = PacketTrack(on_need_keyframe=self._need_keyframe)
        self.source.attach(self.track)
        transceiver = pc.addTransceiver(self.track, direction="sendonly")
        transceiver.setCodecPreferences(relay_codecs())
        await pc.setRemoteDescription(offer)
        redirect_keyframe_requests(transceiver.sender, self._need_keyframe)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.relay.bus.publish(
            f"conn:{self.viewer_conn}", server.answer_from(self.inbox.id, pc.localDescription.sdp)
        )

    def _need_keyframe(self) -> None:
        self.source.need_keyframe()

    def _switch(self, source: EncodedFanout) -> None:
        """Serve this viewer from ``source`` from its next keyframe on (no renegotiation)."""
        if source is self.source:
            return
        if self.track is not None:
            self.source.detach(self.track)
            self.track.resync()
            source.attach(self.track)
        self.source = source

    def open_unredacted(self, grant_id: str, expires_at: float) -> None:
        """Break-glass: the raw encoding until ``expires_at`` (wall-clock epoch seconds)."""
        clock = self.relay.clock
        delay = expires_at - clock.time()
        if delay <= 0:
            return  # expired already: never a single raw frame
        if self.grant_id is not None:
            self._end_timer()
        self.grant_id = grant_id
        self._unredacted_since = clock.monotonic()
        self._expiry = clock.call_later(
            delay, lambda: asyncio.ensure_future(self.close_unredacted("expired"))
        )
        self._switch(self.relay.raw)

    def _end_timer(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    async def close_unredacted(self, reason: str) -> None:
        """Back to the processed encoding; report how long the raw view lasted."""
        grant_id = self.grant_id
        if grant_id is None:
            return
        self._end_timer()
        self.grant_id = None
        self._switch(self.relay.fanout)
        seconds = self.relay.clock.monotonic() - self._unredacted_since
        log.info("relay_unredacted_end", grant_id=grant_id, reason=reason)
        if self.on_unredacted_end is not None:
            try:
                await self.on_unredacted_end(grant_id, seconds, reason)
            except Exception as exc:
                log.warning("relay_unredacted_report_failed", error=type(exc).__name__)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        @channel.on("message")
        async def on_message(data: str | bytes) -> None:
            if isinstance(data, str):
                await self._on_control(data)

    async def close(self) -> None:
        await self.close_unredacted("left")
        if self.track is not None:
            self.source.unsubscribe(self.track)
        if self.pc is not None:
            await self.pc.close()
        await self.inbox.close()


class DeviceRelay:
    """Receives one device's video once and serves every viewer on this node."""

    def __init__(
        self,
        bus: Bus,
        device_id: str,
        on_empty: Callable[[DeviceRelay], None],
        *,
        ice: IcePolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.bus = bus
        self.device_id = device_id
        self.ice = ice or IcePolicy()
        self.clock: Clock = clock or SystemClock()
        self.inbox = BusInbox(bus, "relay")
        self.inbox.on_message = self._on_message
        self.fanout = EncodedFanout(self._request_keyframe)
        # The device's own encoding, for break-glass viewers only: it bypasses processing.
        self.raw = EncodedFanout(self._request_upstream_keyframe)
        self.stage: ProcessingStage | None = None
        self.site: str | None = None
        self.build_chain: ChainBuilder = build_chain
        self.retired: Counter[str] = Counter()
        """Frame counts of processing stages this relay already closed."""
        self._last_detections = 0.0
        self.detection_listeners: list[DetectionListener] = []
        """Called on the loop with every frame the chain finished and what it found."""
        self.viewers: dict[str, ViewerEndpoint] = {}
        self.pc: RTCPeerConnection | None = None
        self.device_conn: str | None = None
        self._receiver: Any = None
        self._on_empty = on_empty
        self._idle: Timer | None = None
        self._holds: set[object] = set()
        self.on_close: list[Callable[[DeviceRelay], None]] = []
        """Called once when the relay closes (a recorder ends its recording here)."""
        self.closed = False

    async def start(self) -> None:
        """Join the device's stream and complete the upstream offer/answer."""
        await self.inbox.open()
        joined = self.inbox.wait_for(lambda m: kind_of(m) is Kind.JOINED, JOIN_TIMEOUT)
        join = pairing.join(self.inbox.id, "relay", NODE_PRINCIPAL)
        if await self.bus.publish(f"device:{self.device_id}", join) == 0:
            joined.close()
            raise RelayError("the device is not connected")
        try:
            reply = await joined
        except TimeoutError:
            raise RelayError("the device did not accept the relay") from None
        self.device_conn = str(reply["from"])
        pc = RTCPeerConnection(self.ice.configuration())
        self.pc = pc
        transceiver = pc.addTransceiver("video", direction="recvonly")
        transceiver.setCodecPreferences(relay_codecs())
        self._receiver = transceiver.receiver
        attach_passthrough(transceiver.receiver, self._on_packet)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close()

        await pc.setLocalDescription(await pc.createOffer())
        answered = self.inbox.wait_for(
            lambda m: kind_of(m) is Kind.ANSWER and m.get("from") == self.device_conn,
            ANSWER_TIMEOUT,
        )
        await self.bus.publish(
            f"conn:{self.device_conn}", server.offer_from(self.inbox.id, pc.localDescription.sdp)
        )
        try:
            answer = await answered
        except TimeoutError:
            raise RelayError("the device did not answer the relay's offer") from None
        try:
            description = self.ice.remote_description(str(answer.get("sdp")), "answer")
        except InvalidSdp as exc:
            raise RelayError(f"the device's answer was refused: {exc}") from None
        await pc.setRemoteDescription(description)
        log.info("relay_started", device_id=self.device_id)

    def _on_packet(self, packet: Packet, keyframe: bool) -> None:
        # The one place processing sits: raw packets either go straight to the fan-out
        # or through the stage, whose single encoding the fan-out then serves.
        if self.raw.tracks or self.raw.taps:
            self.raw.publish(packet, keyframe)
        if self.stage is not None:
            self.stage.push(packet, keyframe)
        else:
            self.fanout.publish(packet, keyframe)

    def configure(self, settings: StreamPolicy | None) -> None:
        """Apply stream settings live: start, change or stop processing."""
        if settings is not None:
            self.site = settings.site
        names = list(settings.ai_models) if settings is not None else []
        mandatory = bool(settings is not None and settings.redact_faces)
        if mandatory:
            names += [n for n in REDACTION if n not in names]
        if not names:
            if self.stage is not None:
                self.stage.close()
                self.retired.update(self.stage.stats.counts())
                self.stage = None
                self._request_upstream_keyframe()  # viewers need a raw keyframe again
            return
        chain = self.build_chain(names)
        bitrate = settings.bitrate if settings is not None else DEFAULT_BITRATE
        bound = settings.resolution if settings is not None else None
        if self.stage is None:
            self.stage = ProcessingStage(
                self.fanout.publish,
                chain=chain,
                mandatory=mandatory,
                bitrate=bitrate,
                on_detections=self._detections,
            )
            self._request_upstream_keyframe()  # the stage's decoder starts at a keyframe
        self.stage.configure(chain, mandatory=mandatory, bitrate=bitrate, bound=bound)

    def processing_counts(self) -> Counter[str]:
        """Running frame counts of every processing stage this relay has had."""
        counts = Counter(self.retired)
        if self.stage is not None:
            counts.update(self.stage.stats.counts())
        return counts

    def unredacted_viewers(self) -> int:
        """How many of this relay's viewers watch the raw picture (break-glass) now."""
        return sum(1 for e in self.viewers.values() if e.grant_id is not None)

    def _detections(self, pts: int | None, detections: list[Any]) -> None:
        """Tell the listeners what the chain found, and this relay's viewers every 200 ms."""
        for listener in list(self.detection_listeners):
            try:
                listener(pts, detections)
            except Exception as exc:  # a listener must never hold up the viewers
                log.warning("relay_detection_listener_failed", error=type(exc).__name__)
        now = self.clock.monotonic()
        if now - self._last_detections < DETECTIONS_INTERVAL or not self.viewers:
            return
        self._last_detections = now
        message = server.detections(
            self.device_id,
            pts,
            [
                {"box": list(d.box), "label": d.label, "score": round(float(d.score), 3)}
                for d in detections
            ],
        )
        for endpoint in list(self.viewers.values()):
            task = asyncio.ensure_future(
                self.bus.publish(
                    f"conn:{endpoint.viewer_conn}", message | {"from": endpoint.inbox.id}
                )
            )
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    def _request_keyframe(self) -> None:
        if self.stage is not None:
            self.stage.force_keyframe()
            return
        self._request_upstream_keyframe()

    def _request_upstream_keyframe(self) -> None:
        if self._receiver is not None:
            task = asyncio.ensure_future(request_keyframe(self._receiver))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _on_message(self, message: dict[str, Any]) -> None:
        if kind_of(message) is Kind.LEAVE and message.get("from") == self.device_conn:
            await self.close()

    async def add_viewer(self, viewer_conn: str, on_control: ControlHandler) -> ViewerEndpoint:
        """A new endpoint for ``viewer_conn``; it pairs itself with the viewer's session."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        endpoint = ViewerEndpoint(self, viewer_conn, on_control)
        self.viewers[endpoint.inbox.id] = endpoint
        await endpoint.start()
        return endpoint

    def hold(self, holder: object) -> None:
        """Keep the relay open without viewers while ``holder`` needs it (a recorder)."""
        self._holds.add(holder)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def release(self, holder: object) -> None:
        """``holder`` no longer needs the relay; it closes after the grace if nobody watches."""
        if holder not in self._holds:
            return
        self._holds.discard(holder)
        self._arm_idle()

    @property
    def held(self) -> bool:
        """Whether something other than a viewer keeps the relay open."""
        return bool(self._holds)

    async def remove_viewer(self, endpoint: ViewerEndpoint) -> None:
        if self.viewers.pop(endpoint.inbox.id, None) is None:
            return
        await endpoint.close()
        self._arm_idle()

    def _arm_idle(self) -> None:
        if self.viewers or self._holds or self.closed or self._idle is not None:
            return
        self._idle = self.clock.call_later(
            IDLE_GRACE, lambda: asyncio.ensure_future(self._close_if_idle())
        )

    async def _close_if_idle(self) -> None:
        self._idle = None
        if not self.viewers and not self._holds:
            await self.close()

    async def close(self) -> None:
        """Tear down every viewer and the upstream connection."""
        if self.closed:
            return
        self.closed = True
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._on_empty(self)
        for hook in self.on_close:
            try:
                hook(self)
            except Exception as exc:
                log.warning("relay_close_hook_failed", error=type(exc).__name__)
        for endpoint in list(self.viewers.values()):
            with contextlib.suppress(Exception):
                await self.bus.publish(
                    f"conn:{endpoint.viewer_conn}", server.leave_from(endpoint.inbox.id)
                )
            await endpoint.close()
        self.viewers.clear()
        if self.stage is not None:
            self.stage.close()
        self.fanout.close()
        self.raw.close()
        if self.device_conn is not None:
            with contextlib.suppress(Exception):
                await self.bus.publish(f"conn:{self.device_conn}", server.leave_from(self.inbox.id))
        if self.pc is not None:
            await self.pc.close()
        await self.inbox.close()
        log.info("relay_closed", device_id=self.device_id)


@dataclass(frozen=True)
class ViewerLimits:
    """Relay viewers per node and per stream (``media.max_viewers_per_*``)."""

    per_node: int = 1_000
    per_stream: int = 250
    retry_after: int = 30


class MediaNode:
    """This server node's relays, one per device being watched here."""

    def __init__(
        self,
        bus: Bus,
        load_settings: SettingsLoader | None = None,
        *,
        chain_builder: ChainBuilder = build_chain,
        ice: IcePolicy | None = None,
        clock: Clock | None = None,
        limits: ViewerLimits | None = None,
    ) -> None:
        self.bus = bus
        self.limits = limits or ViewerLimits()
        """How many relay viewers this node and each stream take (``capacity``)."""
        self.ice = ice or IcePolicy()
        """ICE servers and remote addresses for every peer connection of this node."""
        self.clock: Clock = clock or SystemClock()
        """Break-glass expiry, idle close and detection pacing run on this clock."""
        self.relays: dict[str, DeviceRelay] = {}
        self._starting: dict[str, asyncio.Lock] = {}
        self._load = load_settings
        self._build_chain = chain_builder
        self._listeners: list[asyncio.Task[None]] = []
        self._retired: Counter[str] = Counter()
        self.thumbnails = Thumbnails(self._held_fanout, self.clock)
        """Snapshots of the processed picture for the console's device grid."""

    async def start(self) -> None:
        """Follow stream-setting changes and ended break-glass grants, on every node."""
        if self._listeners:
            return
        if self._load is not None:
            self._listeners.append(
                asyncio.create_task(follow(self.bus, STREAM_CONFIG, self._on_config))
            )
        self._listeners.append(asyncio.create_task(follow(self.bus, OVERRIDES, self._on_override)))

    async def _on_config(self, message: dict[str, Any]) -> None:
        """A device's settings or a whole site's policy changed: reload what it touches."""
        if self._load is None:
            return
        site = message.get("site")
        device = message.get("device_id")
        self.thumbnails.forget(str(device) if device and not site else None)
        for relay in list(self.relays.values()):
            if relay.device_id == message.get("device_id") or (site and relay.site == site):
                relay.configure(await self._load(relay.device_id))

    async def _on_override(self, message: dict[str, Any]) -> None:
        """A break-glass grant ended early: its viewers go back to the redacted picture."""
        relay = self.relays.get(str(message.get("device_id")))
        if relay is None:
            return
        for endpoint in list(relay.viewers.values()):
            if endpoint.grant_id is not None and endpoint.grant_id == message.get("grant_id"):
                await endpoint.close_unredacted(str(message.get("reason") or "ended"))

    async def relay_for(self, device_id: str) -> DeviceRelay:
        """The running relay of ``device_id``, started on first use."""
        lock = self._starting.setdefault(device_id, asyncio.Lock())
        async with lock:
            relay = self.relays.get(device_id)
            if relay is not None and not relay.closed:
                return relay
            relay = DeviceRelay(self.bus, device_id, self._forget, ice=self.ice, clock=self.clock)
            relay.build_chain = self._build_chain
            self.relays[device_id] = relay
            try:
                if self._load is not None:
                    relay.configure(await self._load(device_id))
                await relay.start()
            except Exception:
                await relay.close()
                raise
            return relay

    async def _held_fanout(self, device_id: str) -> tuple[EncodedFanout, Callable[[], None]]:
        """The device's viewer fan-out (processed), its relay held open until released."""
        relay = await self.relay_for(device_id)
        holder = object()
        relay.hold(holder)
        return relay.fanout, lambda: relay.release(holder)

    def _forget(self, relay: DeviceRelay) -> None:
        if self.relays.get(relay.device_id) is relay:
            del self.relays[relay.device_id]
            self._retired.update(relay.processing_counts())

    def processing_counts(self) -> Counter[str]:
        """Running frame counts of every processing stage on this node (for metrics)."""
        counts = Counter(self._retired)
        for relay in self.relays.values():
            counts.update(relay.processing_counts())
        return counts

    def viewer_count(self) -> int:
        """Relay viewers on this node now."""
        return sum(len(relay.viewers) for relay in self.relays.values())

    def refusal(self, relay: DeviceRelay) -> str | None:
        """Why one more viewer of ``relay`` must be refused, or None when there is room.

        Synchronous, so nothing can slip in between this answer and ``add_viewer``.
        """
        if self.viewer_count() >= self.limits.per_node:
            return f"this node serves its maximum of {self.limits.per_node} viewers"
        if len(relay.viewers) >= self.limits.per_stream:
            return f"this stream has its maximum of {self.limits.per_stream} viewers"
        return None

    def unredacted_viewers(self) -> int:
        """Break-glass viewers on this node now."""
        return sum(relay.unredacted_viewers() for relay in self.relays.values())

    async def close(self) -> None:
        for task in self._listeners:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._listeners.clear()
        for relay in list(self.relays.values()):
            await relay.close()
