"""The recorder on a real fan-out fed by a libvpx publisher, timers on a turned clock."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

import av
import numpy as np
import pytest

from lensguard.clock import ManualClock
from lensguard.media.fanout import EncodedFanout
from lensguard.media.passthrough import VIDEO_TIME_BASE, Packet
from lensguard.media.processing import vp8_encoder
from lensguard.recordings.recorder import Recorder, RecorderConfig
from lensguard.recordings.sink import Segment
from tests.recordings.vp8 import FRAME_TICKS, solid

FRAME = 1 / 30


@dataclass
class Collected:
    """A sink that keeps every segment in memory."""

    segments: list[Segment] = field(default_factory=list)

    async def segment(self, segment: Segment) -> None:
        self.segments.append(segment)


class Camera:
    """A publisher: libvpx at 30 fps that makes a keyframe when asked (as for a PLI)."""

    def __init__(self, rtp: int = 1234) -> None:
        self.encoder = vp8_encoder(320, 240, 800_000)
        self.picture = solid((40, 160, 60))
        self.rtp = rtp
        self.index = 0
        self.asked = 0
        self._key = True

    def request_keyframe(self) -> None:
        self.asked += 1
        self._key = True

    def frame(self) -> tuple[Packet, bool]:
        image = self.picture(self.index, 320, 240)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = self.index * FRAME_TICKS, VIDEO_TIME_BASE
        if self._key:
            self._key = False
            frame.pict_type = av.video.frame.PictureType.I
        (encoded,) = self.encoder.encode(frame)
        packet = av.Packet(bytes(encoded))
        packet.pts = packet.dts = self.rtp % (1 << 32)
        packet.time_base = VIDEO_TIME_BASE
        self.index += 1
        self.rtp += FRAME_TICKS
        return packet, (bytes(packet)[0] & 1) == 0


@dataclass
class Rig:
    clock: ManualClock
    camera: Camera
    fanout: EncodedFanout
    sink: Collected
    recorder: Recorder

    async def play(self, frames: int) -> None:
        """``frames`` frames, one every 1/30 s on the clock."""
        for _ in range(frames):
            self.fanout.publish(*self.camera.frame())
            await self.clock.advance(FRAME)


def rig(config: RecorderConfig | None = None, camera: Camera | None = None) -> Rig:
    clock = ManualClock()
    camera = camera or Camera()
    fanout = EncodedFanout(camera.request_keyframe, clock=clock.monotonic)
    sink = Collected()
    recorder = Recorder(fanout, sink, clock=clock, config=config)
    return Rig(clock, camera, fanout, sink, recorder)


def decoded(segment: Segment) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(segment.data), "r") as container:
        return list(container.decode(video=0))


def assert_whole(segment: Segment) -> None:
    """The segment decodes on its own: every frame, keyframe first, increasing timestamps."""
    frames = decoded(segment)
    pts = [f.pts for f in frames if f.pts is not None]
    assert len(frames) == segment.frames and frames[0].key_frame
    assert pts[0] == segment.start_ms == segment.keyframes[0]
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert {(f.width, f.height) for f in frames} == {(320, 240)}


async def test_segments_are_cut_at_the_first_keyframe_after_the_target() -> None:
    r = rig(RecorderConfig(segment_seconds=2.0))
    began = r.clock.time()
    r.recorder.start()
    await r.play(210)  # 7 s
    await r.recorder.stop()
    segments = r.sink.segments
    assert [(s.start_ms, s.end_ms) for s in segments] == [
        (0, 2033),
        (2033, 4066),
        (4066, 6100),
        (6100, 6999),
    ]
    # One keyframe request to begin on, then one per boundary (the fan-out throttles).
    assert r.camera.asked == 4
    assert sum(s.frames for s in segments) == 210 and r.recorder.stats.skipped == 0
    for segment in segments:
        assert_whole(segment)
        assert not segment.after_gap and segment.mime_type == 'video/webm; codecs="vp8"'
    assert segments[0].start == datetime.fromtimestamp(began, UTC)
    assert [s.end for s in segments[:-1]] == [s.start for s in segments[1:]]
    assert r.fanout.taps == []


async def test_stop_closes_the_open_segment_and_records_nothing_after() -> None:
    r = rig()
    r.recorder.start()
    await r.play(30)
    await r.recorder.stop()
    await r.play(30)
    (segment,) = r.sink.segments
    assert (segment.start_ms, segment.end_ms, segment.frames) == (0, 999, 30)
    assert_whole(segment)
    assert r.recorder.stats.frames == 30


async def test_a_silent_publisher_closes_the_segment_and_comes_back_after_a_gap() -> None:
    # The camera comes back with new RTP timestamps that wrap past 2^32 mid-segment.
    r = rig(RecorderConfig(segment_seconds=4.0, gap_seconds=2.0))
    began = r.clock.time()
    r.recorder.start()
    await r.play(30)  # the last frame arrived one frame time ago
    await r.clock.advance(2.0 - FRAME - 0.01)
    assert r.sink.segments == []  # just short of the gap: still open
    await r.clock.advance(0.01)
    (first,) = r.sink.segments
    assert (first.start_ms, first.end_ms, first.frames) == (0, 999, 30)
    assert r.recorder.stats.gaps == 1

    await r.clock.advance(1.0)
    r.camera.rtp = (1 << 32) - 15 * FRAME_TICKS
    r.camera._key = False  # back mid-stream (the request made at the gap was lost)
    asked = r.camera.asked
    came_back = r.clock.time()
    await r.play(60)
    await r.recorder.stop()
    assert r.camera.asked == asked + 1  # the first delta frame asked for a keyframe
    assert r.recorder.stats.skipped == 1
    second = r.sink.segments[1]
    assert second.after_gap and not first.after_gap
    # Placed at the wall-clock time its keyframe arrived: the gap is on the timeline.
    assert second.start_ms == round((came_back + FRAME - began) * 1000)
    assert second.start == datetime.fromtimestamp(began + second.start_ms / 1000, UTC)
    assert second.frames == 59
    assert_whole(second)
    pts = [f.pts for f in decoded(second) if f.pts is not None]
    steps = {b - a for a, b in itertools.pairwise(pts)}
    assert steps <= {33, 34}  # the RTP wrap is invisible on the timeline


async def test_a_new_stream_without_silence_is_a_gap_too() -> None:
    r = rig()
    r.recorder.start()
    await r.play(30)
    r.camera.rtp += 500_000_000  # the publisher reconnected with a new RTP clock
    await r.play(30)
    await r.recorder.stop()
    first, second = r.sink.segments
    assert first.frames == 30 and first.end_ms == 999
    assert second.after_gap and second.start_ms >= 1000
    assert r.recorder.stats.gaps == 1 and r.recorder.stats.skipped == 1
    assert_whole(first)
    assert_whole(second)


async def test_a_frame_the_muxer_refuses_never_reaches_the_viewers() -> None:
    r = rig()
    viewer = r.fanout.subscribe()
    r.recorder.start()
    junk = av.Packet(b"\x00" * 20)  # "keyframe" by its first bit, not a VP8 picture
    junk.pts = 0
    r.fanout.publish(junk, True)
    assert r.recorder.stats.failed == 1
    assert viewer._queue.qsize() == 1  # the viewer got it all the same
    await r.play(30)
    await r.recorder.stop()
    (segment,) = r.sink.segments
    assert_whole(segment)


async def test_a_sink_that_raises_loses_one_segment_not_the_recording() -> None:
    class Flaky(Collected):
        calls = 0

        async def segment(self, segment: Segment) -> None:
            self.calls += 1
            if self.calls == 1:
                raise OSError("disk hiccup")
            await super().segment(segment)

    r = rig(RecorderConfig(segment_seconds=2.0))
    flaky = Flaky()
    r.recorder = Recorder(r.fanout, flaky, clock=r.clock, config=r.recorder.config)
    r.recorder.start()
    await r.play(150)
    await r.recorder.stop()
    assert r.recorder.stats.failed == 1 and flaky.calls == 3
    assert [s.start_ms for s in flaky.segments] == [2033, 4066]


@pytest.mark.parametrize(
    ("segment", "gap", "message"),
    [
        (1.5, 2.0, "segment_seconds must be between 2 and 10"),
        (10.5, 2.0, "segment_seconds must be between 2 and 10"),
        (4.0, 0.0, "gap_seconds must be above 0 and at most 10"),
    ],
)
def test_the_config_refuses_lengths_out_of_range(segment: float, gap: float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        RecorderConfig(segment_seconds=segment, gap_seconds=gap)


def test_the_defaults_are_in_range() -> None:
    config = RecorderConfig()
    assert 2 <= config.segment_seconds <= 10 and np.isfinite(config.gap_seconds)
