"""VP8 frames into WebM segments, without re-encoding: each segment a whole, playable file.

A segment is a complete WebM file (EBML header, Segment, Info, Tracks, Clusters, Cues)
that starts on a keyframe, so it decodes on its own. Timestamps are milliseconds on
the recording's own timeline (not reset per segment), so segments appended in order to
one Media Source Extensions SourceBuffer make one continuous range: a new
initialisation segment in the byte stream is allowed and each file's clusters carry
absolute times. docs/recordings.md ("Container") says why WebM and not fragmented MP4.

Frames are muxed one frame late: a frame's duration is the distance to the next one,
so the last frame of a segment cut at a keyframe ends exactly where the next segment
starts.
"""

from __future__ import annotations

import fractions
import io
from dataclasses import dataclass
from typing import Any

import av

MIME_TYPE = 'video/webm; codecs="vp8"'
"""What a browser's ``MediaSource.addSourceBuffer`` is given for these segments."""
TIME_BASE = fractions.Fraction(1, 1000)
"""WebM's default timestamp scale: one tick is a millisecond."""
DEFAULT_FRAME_MS = 33
"""A last frame's duration when no next frame says it (one frame at 30 fps)."""
_VP8_START_CODE = b"\x9d\x01\x2a"


class MuxError(ValueError):
    """Raised when a frame cannot start or continue a segment (no keyframe, time going back)."""


def vp8_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """The picture size a VP8 keyframe declares (RFC 6386 §9.1), or None for other frames."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != _VP8_START_CODE:
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


@dataclass(frozen=True)
class MuxedSegment:
    """One finished WebM file and what it holds, on the recording's timeline (ms)."""

    data: bytes
    start_ms: int
    end_ms: int
    frames: int
    keyframes: tuple[int, ...]
    """Timestamps (ms) of the keyframes in the segment: where a player can start."""
    width: int
    height: int


class SegmentMuxer:
    """Builds one WebM segment in memory from VP8 frames, the first of them a keyframe."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._container: Any = None
        self._stream: Any = None
        self._held: tuple[bytes, int, bool] | None = None
        self._start_ms: int | None = None
        self._last_ms: int | None = None
        self._last_duration = DEFAULT_FRAME_MS
        self._keyframes: list[int] = []
        self._frames = 0
        self._size = (0, 0)
        self._closed = False

    @property
    def empty(self) -> bool:
        return self._start_ms is None

    @property
    def start_ms(self) -> int | None:
        return self._start_ms

    @property
    def last_ms(self) -> int | None:
        """The timestamp of the newest frame added (ms), or None before the first."""
        return self._last_ms

    def add(self, data: bytes, pts_ms: int, keyframe: bool) -> None:
        """Append one encoded frame at ``pts_ms`` on the recording's timeline."""
        if self._closed:
            raise MuxError("the segment is finished")
        if self._start_ms is None:
            size = vp8_keyframe_size(data) if keyframe else None
            if size is None:
                raise MuxError("a segment starts with a VP8 keyframe")
            self._open(size, pts_ms)
        elif self._last_ms is not None and pts_ms <= self._last_ms:
            raise MuxError("frame timestamps must increase within a segment")
        if self._held is not None:
            self._write(*self._held, duration=pts_ms - self._held[1])
        self._held = (data, pts_ms, keyframe)
        self._last_ms = pts_ms
        if keyframe:
            self._keyframes.append(pts_ms)
        self._frames += 1

    def finish(self, end_ms: int | None = None) -> MuxedSegment:
        """Close the file; the last frame lasts until ``end_ms`` (else one frame time)."""
        if self._start_ms is None or self._held is None or self._last_ms is None:
            raise MuxError("an empty segment cannot be finished")
        if self._closed:
            raise MuxError("the segment is finished")
        self._closed = True
        if end_ms is None or end_ms <= self._last_ms:
            end_ms = self._last_ms + self._last_duration
        self._write(*self._held, duration=end_ms - self._last_ms)
        self._held = None
        self._container.close()
        return MuxedSegment(
            data=self._buffer.getvalue(),
            start_ms=self._start_ms,
            end_ms=end_ms,
            frames=self._frames,
            keyframes=tuple(self._keyframes),
            width=self._size[0],
            height=self._size[1],
        )

    def _open(self, size: tuple[int, int], pts_ms: int) -> None:
        self._size = size
        self._start_ms = pts_ms
        container = av.open(self._buffer, "w", format="webm")
        stream = container.add_mux_stream("vp8", width=size[0], height=size[1])
        stream.time_base = TIME_BASE
        self._container, self._stream = container, stream

    def _write(self, data: bytes, pts_ms: int, keyframe: bool, *, duration: int) -> None:
        # A new packet: the relay's own packet object is shared with every viewer.
        packet = av.Packet(data)
        packet.pts = packet.dts = pts_ms
        packet.duration = duration
        packet.time_base = TIME_BASE
        packet.is_keyframe = keyframe
        packet.stream = self._stream
        self._last_duration = duration
        self._container.mux(packet)
