"""Encoded-frame forwarding through real aiortc peers: publisher → relay → viewers.

Pins the aiortc internals media/passthrough.py relies on: if an aiortc upgrade
breaks them, these tests fail rather than the relay silently decoding again.
"""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import AsyncIterator
from typing import Any

import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection, VideoStreamTrack
from aiortc.rtp import RtpPacket

from lensguard.media.fanout import EncodedFanout
from lensguard.media.passthrough import (
    EagerJitterBuffer,
    attach_passthrough,
    is_keyframe,
    redirect_keyframe_requests,
    request_keyframe,
)
from tests.harness.ice import no_servers

pytestmark = pytest.mark.slow


class Pattern(VideoStreamTrack):
    """A moving gradient at 30 fps."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.n += 1
        img = np.zeros((240, 320, 3), dtype=np.uint8)
        img[:, :, 0] = (np.arange(320) + self.n * 4) % 256
        img[:, :, 1] = 128
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


async def connect(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


@pytest.fixture
async def pcs() -> AsyncIterator[list[RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []
    yield made
    for pc in made:
        await pc.close()


async def test_frames_are_forwarded_without_reencoding(pcs: list[RTCPeerConnection]) -> None:
    publisher, relay_in = RTCPeerConnection(no_servers()), RTCPeerConnection(no_servers())
    pcs += [publisher, relay_in]
    publisher.addTrack(Pattern())
    transceiver = relay_in.addTransceiver("video", direction="recvonly")
    received: list[tuple[av.Packet[Any], bool]] = []
    keyframe_requests: list[float] = []

    fanout = EncodedFanout(lambda: keyframe_requests.append(0.0))
    fanout.taps.append(lambda p, k: received.append((p, k)))
    attach_passthrough(transceiver.receiver, fanout.publish)
    await connect(relay_in, publisher)

    # Two viewers fed from the one upstream stream, each decoding on its own.
    decoded: list[list[av.VideoFrame]] = [[], []]
    for index in range(2):
        relay_out, viewer = RTCPeerConnection(no_servers()), RTCPeerConnection(no_servers())
        pcs += [relay_out, viewer]
        sender = relay_out.addTrack(fanout.subscribe())
        redirect_keyframe_requests(sender, fanout.need_keyframe)

        def on_viewer_track(track: object, bucket: list[av.VideoFrame] = decoded[index]) -> None:
            async def pull() -> None:
                while True:
                    bucket.append(await track.recv())  # type: ignore[attr-defined]

            asyncio.ensure_future(pull())

        viewer.on("track", on_viewer_track)
        viewer.addTransceiver("video", direction="recvonly")
        await connect(viewer, relay_out)

    async def enough() -> None:
        while min(len(d) for d in decoded) < 30:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(enough(), timeout=30)
    assert received and received[0][1] is True  # the first frame forwarded is a keyframe
    assert all(p.time_base == fractions.Fraction(1, 90000) for p, _ in received)
    for frames in decoded:
        assert frames[-1].width == 320 and frames[-1].height == 240
    assert keyframe_requests  # each new viewer asked upstream for a keyframe
    assert await request_keyframe(transceiver.receiver) is True
    fanout.close()


def test_keyframe_detection() -> None:
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 64, 64, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    packets = []
    for i in range(5):
        frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 40, np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = i
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    flags = [is_keyframe("VP8", bytes(p)) for p in packets]
    assert flags[0] is True and not all(flags)
    assert is_keyframe("H264", b"\x00\x00\x00\x01\x67abc\x00\x00\x01\x65") is True
    assert is_keyframe("H264", b"\x00\x00\x00\x01\x41abc") is False
    assert is_keyframe("VP8", b"") is False


async def test_attach_after_start_is_refused(pcs: list[RTCPeerConnection]) -> None:
    a, b = RTCPeerConnection(no_servers()), RTCPeerConnection(no_servers())
    pcs += [a, b]
    a.addTrack(Pattern())
    t = b.addTransceiver("video", direction="recvonly")
    await connect(b, a)
    # A decoded frame on the receiver's track: its decoder thread runs, so it has started.
    await asyncio.wait_for(t.receiver.track.recv(), 10)
    with pytest.raises(RuntimeError, match="before the receiver starts"):
        attach_passthrough(t.receiver, lambda p, k: None)


def _packet(seq: int, ts: int, marker: bool, data: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, marker=marker)
    packet._data = data  # type: ignore[attr-defined]
    return packet


def test_eager_jitter_buffer_releases_on_the_marker() -> None:
    buffer = EagerJitterBuffer(capacity=16, is_video=True)
    assert buffer.add(_packet(100, 3000, False, b"a"))[1] is None
    frame = buffer.add(_packet(101, 3000, True, b"b"))[1]
    assert frame is not None and frame.data == b"ab" and frame.timestamp == 3000
    # A gap holds the frame back until the missing packet arrives.
    assert buffer.add(_packet(102, 6000, False, b"c"))[1] is None
    assert buffer.add(_packet(104, 6000, True, b"e"))[1] is None
    frame = buffer.add(_packet(103, 6000, False, b"d"))[1]
    assert frame is not None and frame.data == b"cde"


def _encoded(keyframe: bool) -> av.Packet[Any]:
    return av.Packet(bytes([0x00 if keyframe else 0x01]) + b"\x00" * 16)


def test_a_viewer_joining_just_after_another_still_gets_a_keyframe_soon() -> None:
    """Two viewers within the half-second limit: the second one's request is dropped by
    the fan-out, so while it waits it keeps asking, and the next asking past the limit
    reaches the publisher (found at 50 viewers joining together: some waited for a
    keyframe far longer than the limit)."""
    now = [100.0]
    requests: list[float] = []
    fanout = EncodedFanout(lambda: requests.append(now[0]), clock=lambda: now[0])
    first = fanout.subscribe()
    assert requests == [100.0]
    fanout.publish(_encoded(keyframe=True), True)  # the first viewer starts
    now[0] += 0.1
    second = fanout.subscribe()  # within the limit: not sent
    assert requests == [100.0]
    for _ in range(20):  # 30 fps of delta frames: the second one is still waiting
        now[0] += 1 / 30
        fanout.publish(_encoded(keyframe=False), False)
    assert requests == [100.0, pytest.approx(100.5, abs=0.04)]
    assert second._queue.empty() and first._queue.qsize() == 21
    fanout.publish(_encoded(keyframe=True), True)
    assert second._queue.qsize() == 1  # synced on that keyframe
