"""Encoded-frame forwarding through aiortc: the one module that touches its private APIs.

aiortc decodes every received video frame and re-encodes it for every sender.
For fan-out we want neither: a received frame, reassembled by the jitter buffer,
is handed on as an ``Packet`` (pts = RTP timestamp, time base 1/90000), and
``RTCRtpSender`` packetizes packets unchanged. Two hooks make that work:

* the receiver's decoder queue is replaced before the receiver starts, so complete
  encoded frames come to us on the event loop instead of to the decoder thread;
* a sender's keyframe request (a viewer's PLI/FIR) is redirected to a callback,
  because "encode the next frame as a keyframe" means nothing for packets: the
  request has to travel upstream to the publisher.

Everything here depends on aiortc 1.16 internals (name-mangled attributes); the
tests in tests/media/test_passthrough.py pin that behaviour.
"""

from __future__ import annotations

import asyncio
import fractions
import queue
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.stream import Stream

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
SUPPORTED_CODECS = ("VP8", "H264")
if TYPE_CHECKING:
    Packet = av.Packet[Stream]
else:  # av.Packet is generic only in its type stubs
    Packet = av.Packet
PacketSink = Callable[[Packet, bool], None]


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own."""
    if not data:
        return False
    if codec_name == "VP8":
        # RFC 6386 §9.1: bit 0 of the first byte is 0 for key frames.
        return (data[0] & 0x01) == 0
    if codec_name == "H264":
        return any(nal_type in (5, 7) for nal_type in _h264_nal_types(data))
    return False


def _h264_nal_types(data: bytes) -> list[int]:
    types: list[int] = []
    i = 0
    while True:
        i = data.find(b"\x00\x00\x01", i)
        if i < 0 or i + 3 >= len(data):
            return types
        types.append(data[i + 3] & 0x1F)
        i += 3


class _PassthroughQueue(queue.Queue):  # type: ignore[type-arg]
    """Stands in for the receiver's decoder queue: frames go to ``sink``, not the decoder."""

    def __init__(self, sink: PacketSink) -> None:
        super().__init__()
        self._sink = sink

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver is stopping: let the (idle) decoder thread end
            super().put(None, block, timeout)
            return
        codec, encoded_frame = item
        name = str(codec.name)
        data = bytes(encoded_frame.data)
        packet = av.Packet(data)
        packet.pts = encoded_frame.timestamp
        packet.dts = encoded_frame.timestamp
        packet.time_base = VIDEO_TIME_BASE
        self._sink(packet, is_keyframe(name, data))


class EagerJitterBuffer(JitterBuffer):
    """Releases a frame as soon as it is complete (marker bit, no gap), not one frame later.

    aiortc's buffer hands a frame on only when the next frame's first packet arrives,
    adding a frame interval (33 ms at 30 fps) of latency at every hop. A relay
    forwarding packets does not need that wait.
    """

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        if self._origin is None:
            return None
        parts: list[bytes] = []
        timestamp: int | None = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                return None  # a gap: wait for the retransmission
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                # The previous frame ended without a marker we saw: release it as before.
                self.remove(count)
                return JitterFrame(data=b"".join(parts), timestamp=timestamp)
            parts.append(packet._data)  # type: ignore[attr-defined]
            if packet.marker:
                self.remove(count + 1)
                return JitterFrame(data=b"".join(parts), timestamp=timestamp)
        return None


def attach_passthrough(receiver: RTCRtpReceiver, sink: PacketSink) -> None:
    """Deliver ``receiver``'s complete encoded frames to ``sink`` (call before it starts)."""
    if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
        raise RuntimeError("attach_passthrough must run before the receiver starts")
    if not hasattr(receiver, "_RTCRtpReceiver__decoder_queue"):
        raise RuntimeError("this aiortc version has no decoder queue to replace")
    receiver._RTCRtpReceiver__decoder_queue = _PassthroughQueue(sink)
    receiver._RTCRtpReceiver__jitter_buffer = EagerJitterBuffer(  # type: ignore[attr-defined]
        capacity=512, is_video=True
    )


def redirect_keyframe_requests(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Send ``sender``'s incoming PLI/FIR to ``callback`` instead of its encoder."""
    sender._send_keyframe = callback  # type: ignore[method-assign]


async def request_keyframe(receiver: RTCRtpReceiver) -> bool:
    """Ask the publisher for a keyframe (RTCP PLI); False when no source is known yet."""
    sources = receiver.getSynchronizationSources()
    if not sources:
        return False
    for source in sources:
        await receiver._send_rtcp_pli(source.source)
    return True


class PacketTrack(MediaStreamTrack):
    """A video track whose ``recv()`` yields encoded packets for a forwarding sender.

    A new subscriber waits for a keyframe before its first packet, asking for one at
    every frame it has to skip (the fan-out limits how often that reaches the
    publisher). The queue is
    short and drops the oldest packets when a viewer falls behind (then waits for
    the next keyframe again), so one slow viewer never delays the others.
    """

    kind = "video"

    def __init__(self, *, on_need_keyframe: Callable[[], None], depth: int = 30) -> None:
        super().__init__()
        self._queue: asyncio.Queue[Packet | None] = asyncio.Queue(depth)
        self._synced = False
        self._on_need_keyframe = on_need_keyframe
        self.dropped = 0

    def offer(self, packet: Packet, keyframe: bool) -> None:
        """Queue a packet (called by the fan-out for every received frame)."""
        if self.readyState != "live":
            return
        if not self._synced:
            if not keyframe:
                # Keep asking while waiting: a request made within the fan-out's limit
                # of another viewer's was dropped, and the encoder sends no keyframe
                # on its own for a long while. The fan-out bounds the rate.
                self._on_need_keyframe()
                return
            self._synced = True
        if self._queue.full():
            self._drain()
            self.dropped += 1
            self._synced = keyframe
            self._on_need_keyframe()
            if not keyframe:
                return
        self._queue.put_nowait(packet)

    def resync(self) -> None:
        """The source changes: packets already queued go out, new ones from a keyframe on."""
        self._synced = False

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def recv(self) -> Packet:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            self._drain()
            self._queue.put_nowait(None)
        super().stop()
