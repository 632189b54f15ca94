"""Synthetic VP8 for recording tests: real libvpx frames, keyframes where a test asks."""

from __future__ import annotations

import fractions
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import av
import numpy as np

from lensguard.media.passthrough import Packet
from lensguard.media.processing import vp8_encoder

TB = fractions.Fraction(1, 90000)
FRAME_TICKS = 3000  # 30 fps at 90 kHz


@dataclass(frozen=True)
class Encoded:
    """One encoded frame as the relay forwards it: bytes, RTP-clock pts, keyframe flag."""

    data: bytes
    pts: int
    keyframe: bool

    def packet(self) -> Packet:
        packet = av.Packet(self.data)
        packet.pts = packet.dts = self.pts
        packet.time_base = TB
        return packet


def solid(colour: Sequence[int]) -> Callable[[int, int, int], np.ndarray]:
    """A picture source: every frame one BGR colour, with a moving bar so frames differ."""

    def picture(index: int, width: int, height: int) -> np.ndarray:
        image = np.empty((height, width, 3), np.uint8)
        image[:] = colour
        x = (index * 8) % width
        image[:, x : x + 8] = 255 - np.asarray(colour, np.uint8)
        return image

    return picture


def encode(
    count: int,
    *,
    keyframes: Sequence[int] = (0,),
    size: tuple[int, int] = (320, 240),
    first_pts: int = 0,
    picture: Callable[[int, int, int], np.ndarray] | None = None,
) -> list[Encoded]:
    """``count`` frames at 30 fps from ``first_pts`` (90 kHz), keyframes at the given indices."""
    width, height = size
    picture = picture or solid((40, 40, 200))
    encoder = vp8_encoder(width, height, 1_000_000)
    out: list[Encoded] = []
    for index in range(count):
        frame = av.VideoFrame.from_ndarray(picture(index, width, height), format="bgr24")
        frame = frame.reformat(format="yuv420p")
        frame.pts, frame.time_base = first_pts + index * FRAME_TICKS, TB
        if index in keyframes:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in encoder.encode(frame):
            data = bytes(packet)
            out.append(Encoded(data, int(packet.pts), (data[0] & 1) == 0))
    for packet in encoder.encode(None):
        data = bytes(packet)
        out.append(Encoded(data, int(packet.pts), (data[0] & 1) == 0))
    return out
