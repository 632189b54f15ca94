"""Capture-time stamps drawn into the luma plane, readable after lossy compression.

A stamp is a 16 x 6 grid of 16 x 16 px blocks in the frame's top-left corner, each
block black or white: a 16-bit start marker, the 64-bit capture time in
microseconds, and a CRC-16 over the time. Blocks match the 16 x 16 macroblocks of
VP8 and H.264 and sit on their grid, so one bit never straddles two macroblocks and
survives even a starved encoder; the receiver reads only each block's centre.
"""

from __future__ import annotations

import binascii

import numpy as np
import numpy.typing as npt
from av import VideoFrame

BLOCK = 16
COLUMNS = 16
ROWS = 6
WIDTH = BLOCK * COLUMNS
HEIGHT = BLOCK * ROWS
MARKER = 0xB4E1
BLACK = 16
WHITE = 235
_THRESHOLD = (BLACK + WHITE) / 2
_INNER = slice(BLOCK // 4, BLOCK - BLOCK // 4)

Luma = npt.NDArray[np.uint8]


def _bits(value: int, count: int) -> list[int]:
    return [(value >> (count - 1 - i)) & 1 for i in range(count)]


def _number(bits: list[int]) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | bit
    return value


def _crc(t_us: int) -> int:
    return binascii.crc_hqx(t_us.to_bytes(8, "big"), 0xFFFF)


def _check_size(frame_y: Luma) -> None:
    height, width = frame_y.shape[:2]
    if width < WIDTH or height < HEIGHT:
        raise ValueError(
            f"a stamp needs at least {WIDTH}x{HEIGHT} px, the frame is {width}x{height}"
        )


def stamp(frame_y: Luma, t_us: int) -> None:
    """Draw ``t_us`` (microseconds, 0 <= t_us < 2**64) into the luma plane, in place."""
    _check_size(frame_y)
    if not 0 <= t_us < 2**64:
        raise ValueError("the stamp holds an unsigned 64-bit number")
    bits = _bits(MARKER, 16) + _bits(t_us, 64) + _bits(_crc(t_us), 16)
    grid = np.array(bits, dtype=np.uint8).reshape(ROWS, COLUMNS) * (WHITE - BLACK) + BLACK
    # One value per block, blown up to 16 x 16 px.
    frame_y[:HEIGHT, :WIDTH] = np.kron(grid, np.ones((BLOCK, BLOCK), dtype=np.uint8))


def read_stamp(frame_y: Luma) -> int | None:
    """The microseconds stamped into the luma plane, or None when there is no valid stamp."""
    height, width = frame_y.shape[:2]
    if width < WIDTH or height < HEIGHT:
        return None
    region = frame_y[:HEIGHT, :WIDTH].astype(np.float32).reshape(ROWS, BLOCK, COLUMNS, BLOCK)
    # Only each block's centre: compression smears the edges between blocks.
    centres = region[:, _INNER, :, _INNER].mean(axis=(1, 3))
    bits = [int(b) for b in (centres.reshape(-1) > _THRESHOLD)]
    if _number(bits[:16]) != MARKER:
        return None
    t_us = _number(bits[16:80])
    if _number(bits[80:]) != _crc(t_us):
        return None
    return t_us


def frame_luma(frame: VideoFrame) -> Luma:
    """The Y plane of a decoded frame as a (height, width) array (no copy for yuv420p)."""
    if frame.format.name not in ("yuv420p", "yuvj420p", "nv12", "gray"):
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]
