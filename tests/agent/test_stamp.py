"""Capture-time stamps survive real VP8 and H.264 encoding; damaged ones read as None."""

import fractions
from typing import cast

import av
import numpy as np
import pytest
from aiortc.codecs import h264, vpx
from av.video.codeccontext import VideoCodecContext

from lensguard.agent.scene import SceneRenderer, Viewport
from lensguard.agent.stamp import HEIGHT, WIDTH, frame_luma, read_stamp, stamp

T0 = 1_767_225_600_123_456  # 2026-01-01 in microseconds, with odd low digits


def test_round_trip_without_compression() -> None:
    luma = np.full((480, 640), 128, dtype=np.uint8)
    stamp(luma, T0)
    assert read_stamp(luma) == T0


@pytest.mark.parametrize("value", [0, 1, 2**63 + 12345, 2**64 - 1])
def test_extreme_values_round_trip(value: int) -> None:
    luma = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    stamp(luma, value)
    assert read_stamp(luma) == value


def test_a_flipped_bit_fails_the_checksum() -> None:
    luma = np.full((480, 640), 128, dtype=np.uint8)
    stamp(luma, T0)
    block = luma[16:32, 16 * 5 : 16 * 6]  # a bit of the time value
    block[:] = 251 - block
    assert read_stamp(luma) is None


def test_no_stamp_reads_as_none() -> None:
    assert read_stamp(np.full((480, 640), 128, dtype=np.uint8)) is None
    assert read_stamp(np.zeros((480, 640), dtype=np.uint8)) is None
    assert read_stamp(np.zeros((40, 40), dtype=np.uint8)) is None


def test_stamp_refuses_small_frames_and_out_of_range_values() -> None:
    with pytest.raises(ValueError, match="at least 256x96 px"):
        stamp(np.zeros((64, 640), dtype=np.uint8), T0)
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        stamp(np.zeros((480, 640), dtype=np.uint8), -1)


def encode_decode(
    codec: str, width: int, height: int, frames: list[np.ndarray]
) -> list[int | None]:
    """Encode yuv420p arrays at aiortc's lowest bit rate, decode them, read their stamps."""
    encoder = cast(VideoCodecContext, av.CodecContext.create(codec, "w"))
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    encoder.framerate = fractions.Fraction(30, 1)
    # The floor aiortc's congestion control can push its encoders down to.
    encoder.bit_rate = h264.MIN_BITRATE if codec == "libx264" else vpx.MIN_BITRATE
    if codec == "libx264":
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency"}
    else:
        encoder.options = {"deadline": "realtime", "cpu-used": "8"}
    decoder = av.CodecContext.create("h264" if codec == "libx264" else "vp8", "r")
    read: list[int | None] = []
    packets = []
    for index, array in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(array, format="yuv420p")
        frame.pts = index
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    for packet in packets:
        read.extend(read_stamp(frame_luma(decoded)) for decoded in decoder.decode(packet))
    return read


@pytest.mark.parametrize("codec", ["libvpx", "libx264"])
@pytest.mark.parametrize(("width", "height"), [(640, 480), (1280, 720)])
def test_stamps_survive_encoding(codec: str, width: int, height: int) -> None:
    renderer = SceneRenderer(width, height)
    rng = np.random.default_rng(7)
    stamps = [T0 + i * 33_333 + int(rng.integers(0, 1000)) for i in range(30)]
    frames = []
    for index, t_us in enumerate(stamps):
        array = renderer.render(index, t_us, Viewport(x=index * 13.0, y=-index * 7.0))
        # Noise everywhere but the stamp: the hardest content for the encoder.
        noise = rng.integers(0, 40, size=array[:height].shape, dtype=np.uint8)
        array[HEIGHT:height] = array[HEIGHT:height] // 2 + noise[HEIGHT:]
        frames.append(array)
    assert encode_decode(codec, width, height, frames) == stamps
