"""A real recording for tests: libvpx VP8 frames muxed into segments, kept by EncryptedSink."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lensguard.audit.log import AuditLog
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.muxer import SegmentMuxer
from lensguard.recordings.sink import Segment
from lensguard.recordings.store import SegmentStore
from lensguard.recordings.writer import EncryptedSink
from lensguard.store.db import Database
from tests.recordings.vp8 import Encoded, encode

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
FPS = 30


def at(ms: int) -> datetime:
    """``ms`` milliseconds after ``T0``."""
    return T0 + timedelta(milliseconds=ms)


@dataclass(frozen=True)
class Recorded:
    """What was recorded: the recording id and every frame, in order."""

    recording_id: str
    frames: Sequence[Encoded]
    segments: Sequence[Segment]


def segments_of(frames: Sequence[Encoded], *, per: int, start: datetime) -> list[Segment]:
    """Frames cut into segments of ``per`` frames, each on the recording's media timeline."""
    out: list[Segment] = []
    for first in range(0, len(frames), per):
        part = frames[first : first + per]
        muxer = SegmentMuxer()
        for frame in part:
            muxer.add(frame.data, frame.pts // 90, frame.keyframe)
        end_ms = (first + len(part)) * 1000 // FPS
        muxed = muxer.finish(end_ms)
        out.append(
            Segment(
                start=start + timedelta(milliseconds=muxed.start_ms),
                end=start + timedelta(milliseconds=muxed.end_ms),
                data=muxed.data,
                start_ms=muxed.start_ms,
                end_ms=muxed.end_ms,
                keyframes=muxed.keyframes,
                frames=muxed.frames,
                width=muxed.width,
                height=muxed.height,
                after_gap=False,
            )
        )
    return out


async def record(
    db: Database,
    store: SegmentStore,
    ring: KeyRing,
    audit: AuditLog,
    *,
    device_id: str,
    seconds: int = 3,
    start: datetime = T0,
) -> Recorded:
    """``seconds`` of 320x240 VP8 as one-second segments, stored, chained and sealed."""
    frames = encode(seconds * FPS, keyframes=tuple(range(0, seconds * FPS, FPS)))
    segments = segments_of(frames, per=FPS, start=start)
    sink = EncryptedSink(db, store, ring, audit, device_id=device_id)
    for segment in segments:
        await sink.segment(segment)
    assert await sink.close() is not None
    assert sink.written == len(segments)
    return Recorded(sink.recording_id, frames, segments)
