"""Recorder CPU per recorded 640x480@30 stream, against decoding and re-encoding it.

The recorder muxes the relay's VP8 frames into WebM segments unchanged. This feeds
20 s of 640x480@30 VP8 (1.5 Mb/s, a panning noisy scene, a keyframe every 4 s as the
recorder's own requests would bring) through a real ``EncodedFanout`` into a
``Recorder`` with 4 s segments and a sink that drops the bytes, and measures process
CPU time (every thread) per second of video. Baseline in the same run, on the same
packets: what recording would cost if it transcoded, decoding each frame with FFmpeg's
VP8 decoder and encoding it again with the relay's libvpx settings. Rounds alternate;
figures are medians. Goal: the recorder at or under 3 % of one core per stream.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import av
import numpy as np

from lensguard.clock import SystemClock
from lensguard.media.fanout import EncodedFanout
from lensguard.media.passthrough import VIDEO_TIME_BASE, is_keyframe
from lensguard.media.processing import to_i420, vp8_encoder
from lensguard.recordings.recorder import Recorder, RecorderConfig
from lensguard.recordings.sink import Segment

WIDTH, HEIGHT, FPS = 640, 480, 30
SECONDS = 20
BITRATE = 1_500_000
KEYFRAME_EVERY = 4 * FPS
ROUNDS = 3


def scene(count: int) -> list[np.ndarray]:
    """A pan across a gradient with sensor-like noise: every frame differs."""
    rng = np.random.default_rng(7)
    x = np.arange(WIDTH + count * 2)
    strip = np.stack([(x * 3) % 256, (x // 2) % 256, (x * 5) % 256], axis=-1).astype(np.int16)
    frames = []
    for i in range(count):
        row = strip[i * 2 : i * 2 + WIDTH]
        image = np.broadcast_to(row, (HEIGHT, WIDTH, 3)).astype(np.int16)
        image = image + rng.integers(-4, 5, image.shape, dtype=np.int16)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
    return frames


def source_packets() -> list[tuple[Any, bool]]:
    """The stream as the relay forwards it: VP8 packets, RTP-clock pts, keyframe flags."""
    encoder = vp8_encoder(WIDTH, HEIGHT, BITRATE)
    out: list[tuple[Any, bool]] = []
    for i, image in enumerate(scene(SECONDS * FPS)):
        frame = to_i420(image, i * 3000)
        if i % KEYFRAME_EVERY == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in encoder.encode(frame):
            packet.time_base = VIDEO_TIME_BASE
            out.append((packet, is_keyframe("VP8", bytes(packet))))
    return out


class Discard:
    """A sink that keeps only counts."""

    def __init__(self) -> None:
        self.segments = 0
        self.bytes = 0

    async def segment(self, segment: Segment) -> None:
        self.segments += 1
        self.bytes += len(segment.data)


async def record(packets: list[tuple[Any, bool]]) -> tuple[float, Discard]:
    """Process CPU seconds to record ``packets`` through a fan-out."""
    fanout = EncodedFanout(lambda: None)
    sink = Discard()
    recorder = Recorder(fanout, sink, clock=SystemClock(), config=RecorderConfig(4.0))
    started = time.process_time()
    recorder.start()
    for packet, keyframe in packets:
        fanout.publish(packet, keyframe)
        await asyncio.sleep(0)  # one loop turn per frame, as when frames arrive live
    await recorder.stop()
    return time.process_time() - started, sink


def transcode(packets: list[tuple[Any, bool]]) -> float:
    """Process CPU seconds to decode every packet and encode it again."""
    decoder = av.CodecContext.create("vp8", "r")
    encoder = vp8_encoder(WIDTH, HEIGHT, BITRATE)
    started = time.process_time()
    for packet, _keyframe in packets:
        for frame in decoder.decode(packet):
            frame.pict_type = av.video.frame.PictureType.NONE
            encoder.encode(frame)
    encoder.encode(None)
    return time.process_time() - started


def main() -> None:
    packets = source_packets()
    ours: list[float] = []
    theirs: list[float] = []
    sink = Discard()
    for _ in range(ROUNDS):
        cpu, sink = asyncio.run(record(packets))
        ours.append(cpu)
        theirs.append(transcode(packets))
    ours_pct = 100 * statistics.median(ours) / SECONDS
    theirs_pct = 100 * statistics.median(theirs) / SECONDS
    megabits = sink.bytes * 8 / SECONDS / 1e6
    expected = SECONDS * FPS // KEYFRAME_EVERY
    if sink.segments != expected:
        raise SystemExit(f"recorded {sink.segments} segments, expected {expected}")
    print(
        f"{SECONDS} s of VP8 {WIDTH}x{HEIGHT}@{FPS}, {megabits:.2f} Mb/s, "
        f"{sink.segments} segments per run, {ROUNDS} rounds (medians)"
    )
    print(f"{'':>28} | % of one core per stream")
    print(f"{'recorder (mux, no re-encode)':>28} | {ours_pct:6.2f}%")
    print(f"{'decode + re-encode baseline':>28} | {theirs_pct:6.2f}%")
    print(f"ratio recorder / baseline: {ours_pct / theirs_pct:.3f}x  (goal: recorder <= 3%)")


if __name__ == "__main__":
    main()
