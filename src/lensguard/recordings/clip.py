"""One plain, playable WebM of a time range, remuxed from a device's segments unchanged.

The input is the decrypted segments of one device in time order, each a whole WebM
file that starts on a keyframe (``muxer.py``). The clip is one new WebM file: the
packets are copied as they are (never decoded or re-encoded), so what a clip shows
is byte for byte what was recorded.

- **Start**: the clip starts at the last keyframe at or before the range's start
  (a segment always starts on one), so its first frame decodes; it may therefore
  begin up to one keyframe interval early.
- **End**: frames that start at or after the range's end are left out; the last
  frame kept lasts until the next recorded frame (or the range's end).
- **Timeline**: clip timestamps are milliseconds from the clip's first frame, placed
  by each segment's wall-clock start, so a gap in the recording stays a gap of the
  same length in the clip (the player holds the last picture), and segments of two
  recordings of the device line up by wall-clock time.
- The output is deterministic (libavformat's bitexact mode: no random segment UID,
  no muxing-library string), so the same segments give the same bytes.
"""

from __future__ import annotations

import fractions
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import av

from lensguard.recordings.muxer import MIME_TYPE, vp8_keyframe_size

TIME_BASE = fractions.Fraction(1, 1000)
DEFAULT_FRAME_MS = 33


class ClipError(ValueError):
    """Raised when the segments cannot make a clip (none in range, not VP8 WebM, overlap)."""


@dataclass(frozen=True)
class ClipSource:
    """One decrypted segment: its wall-clock start (UTC) and its whole WebM bytes."""

    start: datetime
    data: bytes


@dataclass(frozen=True)
class Clip:
    """A finished clip and what it covers."""

    data: bytes
    start: datetime
    """Wall-clock time of the clip's first frame (a keyframe at or before the asked start)."""
    end: datetime
    """Wall-clock time the clip's last frame ends."""
    frames: int
    duration_ms: int
    width: int
    height: int
    segments: int
    """How many of the given segments contributed frames."""
    mime_type: str = MIME_TYPE


@dataclass(frozen=True)
class _Frame:
    data: bytes
    at_ms: int
    """Wall-clock time in ms from the first segment's start."""
    keyframe: bool
    end_ms: int
    """Where the frame ends as recorded (the next frame, or its segment's end)."""
    source: int


def _frames(data: bytes) -> list[tuple[bytes, int, int, bool]]:
    """(bytes, pts, end, keyframe) of one WebM segment's frames, ms from its first frame."""
    try:
        with av.open(io.BytesIO(data), "r") as container:
            streams = container.streams.video
            if len(streams) != 1 or streams[0].codec_context.name != "vp8":
                raise ClipError("a segment is not one VP8 video track")
            stream = streams[0]
            base = stream.time_base or TIME_BASE
            found: list[tuple[bytes, int, bool]] = []
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                pts = round(packet.pts * base * 1000)
                found.append((bytes(packet), pts, bool(packet.is_keyframe)))
            # WebM blocks carry no durations: a frame lasts until the next one, and the
            # last one until the file's duration (its end on the recording's timeline).
            total = container.duration
    except av.FFmpegError:
        raise ClipError("a segment is not a readable WebM file") from None
    if not found:
        raise ClipError("a segment holds no frames")
    ends = [pts for _, pts, _ in found[1:]]
    last = found[-1][1]
    file_end = round(total / 1000) if total else 0
    ends.append(file_end if file_end > last else last + DEFAULT_FRAME_MS)
    out = [(b, pts, end, key) for (b, pts, key), end in zip(found, ends, strict=True)]
    first = out[0][1]
    return [(b, pts - first, end - first, key) for b, pts, end, key in out]


def _ms(delta: timedelta) -> int:
    return round(delta / timedelta(milliseconds=1))


def build_clip(sources: Sequence[ClipSource], start: datetime, end: datetime) -> Clip:
    """One WebM of ``start`` to ``end`` from ``sources`` (one device's, in time order)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ClipError("clip times must be timezone-aware")
    if end <= start:
        raise ClipError("a clip ends after it starts")
    if not sources:
        raise ClipError("no recorded segments in the range")
    origin = min(s.start for s in sources)
    frames: list[_Frame] = []
    for number, source in enumerate(sorted(sources, key=lambda s: s.start)):
        offset = _ms(source.start - origin)
        parsed = _frames(source.data)
        if frames and offset + parsed[0][1] <= frames[-1].at_ms:
            raise ClipError("segments overlap in time")
        frames.extend(
            _Frame(b, offset + pts, key, offset + stop, number) for b, pts, stop, key in parsed
        )
    start_ms, end_ms = _ms(start - origin), _ms(end - origin)
    # The first frame on screen at the start, then back to the keyframe it depends on.
    shown = next((i for i, f in enumerate(frames) if f.end_ms > start_ms), None)
    if shown is None or frames[shown].at_ms >= end_ms:
        raise ClipError("no recorded frames in the range")
    keyframes = [i for i in range(shown + 1) if frames[i].keyframe]
    if not keyframes:
        raise ClipError("a segment does not start on a keyframe")
    first = keyframes[-1]
    kept = [f for f in frames[first:] if f.at_ms < end_ms]
    after = frames[first + len(kept)] if first + len(kept) < len(frames) else None
    last_end = min(kept[-1].end_ms, end_ms, after.at_ms if after is not None else end_ms)
    last_end = max(last_end, kept[-1].at_ms + 1)
    data, width, height = _mux(kept, last_end)
    clip_origin = origin + timedelta(milliseconds=kept[0].at_ms)
    return Clip(
        data=data,
        start=clip_origin,
        end=origin + timedelta(milliseconds=last_end),
        frames=len(kept),
        duration_ms=last_end - kept[0].at_ms,
        width=width,
        height=height,
        segments=len({f.source for f in kept}),
    )


def _mux(frames: Sequence[_Frame], end_ms: int) -> tuple[bytes, int, int]:
    size = vp8_keyframe_size(frames[0].data)
    if size is None:
        raise ClipError("a clip starts with a VP8 keyframe")
    buffer = io.BytesIO()
    container: Any = av.open(buffer, "w", format="webm", options={"fflags": "+bitexact"})
    container.flags |= av.container.Flags.bitexact.value
    stream = container.add_mux_stream("vp8", width=size[0], height=size[1])
    stream.time_base = TIME_BASE
    zero = frames[0].at_ms
    for index, frame in enumerate(frames):
        last = index + 1 == len(frames)
        stop = end_ms if last else min(frame.end_ms, frames[index + 1].at_ms)
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = frame.at_ms - zero
        packet.duration = max(stop - frame.at_ms, 1)
        packet.time_base = TIME_BASE
        packet.is_keyframe = frame.keyframe
        packet.stream = stream
        container.mux(packet)
    container.close()
    return buffer.getvalue(), size[0], size[1]
