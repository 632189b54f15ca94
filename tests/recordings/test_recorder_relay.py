"""The recorder on a real relay: a publishing aiortc peer, the relay's fan-out, real PLIs.

The device side speaks the pairing messages on an in-process bus and answers the
relay's offer with moving bars; the relay receives over loopback ICE and forwards
packets unchanged. Segments must start on keyframes the relay asked the publisher for.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from typing import Any

import av
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from lensguard.bus.memory import MemoryBus
from lensguard.clock import ManualClock
from lensguard.media.addresses import networks
from lensguard.media.ice import IcePolicy, RemoteAddresses
from lensguard.media.relay import DeviceRelay
from lensguard.recordings.recorder import Recorder, RecorderConfig
from lensguard.recordings.sink import Segment
from lensguard.store.streams import StreamPolicy
from lensguard.wire import pairing, server
from tests.harness.device import Bars
from tests.harness.ice import host_blocks, no_servers
from tests.media.test_redaction_relay import FACE_HIDDEN, PhotoTrack, face_detail

pytestmark = pytest.mark.slow
DEVICE, DEVICE_CONN = "dev-rec", "device-conn"


@dataclass
class Collected:
    segments: list[Segment] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def segment(self, segment: Segment) -> None:
        self.segments.append(segment)
        self.arrived.set()


def decoded(segment: Segment) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(segment.data), "r") as container:
        return list(container.decode(video=0))


async def serve_device(
    bus: MemoryBus, pc: RTCPeerConnection, track: MediaStreamTrack
) -> asyncio.Task[None]:
    """Accept the relay's join and answer its offer with ``track`` (subscribed at once)."""
    joins = await bus.subscribe(f"device:{DEVICE}")
    inbox = await bus.subscribe(f"conn:{DEVICE_CONN}")
    return asyncio.create_task(_answer(bus, pc, track, joins, inbox))


async def _answer(
    bus: MemoryBus, pc: RTCPeerConnection, track: MediaStreamTrack, joins: Any, inbox: Any
) -> None:
    try:
        join = await anext(aiter(joins))
        await bus.publish(f"conn:{join['from']}", pairing.joined(DEVICE_CONN, DEVICE))
        offer = await anext(aiter(inbox))
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        pc.addTrack(track)
        await pc.setLocalDescription(await pc.createAnswer())
        answer = server.answer_from(DEVICE_CONN, pc.localDescription.sdp)
        await bus.publish(f"conn:{offer['from']}", answer)
    finally:
        await joins.close()
        await inbox.close()


async def record_relay(
    track: MediaStreamTrack, segments: int, policy: StreamPolicy | None = None
) -> tuple[list[Segment], Recorder]:
    """Record a real relay of ``track`` until ``segments`` segments are finished."""
    bus = MemoryBus()
    clock = ManualClock()
    device = RTCPeerConnection(no_servers())
    ice = IcePolicy(remote=RemoteAddresses(allowed=networks(host_blocks())))
    relay = DeviceRelay(bus, DEVICE, lambda _: None, ice=ice, clock=clock)
    sink = Collected()
    # The processed fan-out: what viewers see (the relay's stage publishes into it).
    recorder = Recorder(relay.fanout, sink, clock=clock, config=RecorderConfig(segment_seconds=2.0))
    serving = await serve_device(bus, device, track)
    try:
        relay.configure(policy)
        await relay.start()
        await serving
        recorder.start()

        async def finished() -> None:
            while len(sink.segments) < segments:
                sink.arrived.clear()
                await sink.arrived.wait()

        await asyncio.wait_for(finished(), 30)  # real video: 2-3 s a segment
        await recorder.stop()
    finally:
        await recorder.stop()
        await relay.close()
        await device.close()
    return sink.segments, recorder


async def test_a_relay_is_recorded_in_keyframe_aligned_segments() -> None:
    segments, recorder = await record_relay(Bars(), 2)
    first, second, *rest = segments
    assert first.end_ms == second.start_ms  # cut at a keyframe: continuous
    assert 2000 <= first.end_ms - first.start_ms < 4000  # target, plus the PLI's round trip
    for segment in [first, second, *rest]:
        frames = decoded(segment)
        assert frames[0].key_frame and len(frames) == segment.frames
        assert (frames[0].width, frames[0].height) == (320, 240)
        assert frames[0].pts == segment.start_ms
    assert recorder.stats.failed == 0 and recorder.stats.dropped == 0


async def test_a_redacting_relay_is_recorded_redacted() -> None:
    policy = StreamPolicy(device_id=DEVICE, site="site-a", redact_faces=True)
    segments, recorder = await record_relay(PhotoTrack(), 1, policy)
    pictures = [
        frame.to_ndarray(format="bgr24") for segment in segments for frame in decoded(segment)
    ]
    assert pictures and recorder.stats.frames == len(pictures)
    # Every recorded picture is the processed one: the face pixelated (or blanked).
    assert max(face_detail(picture) for picture in pictures) < FACE_HIDDEN
