"""Recordings written into a running server's own database and store, through its vault.

The test process builds the server's ``Services`` from the same configuration file and
master secret, so the segments are encrypted under the server's key ring, indexed in
its database, stored where it looks and anchored in its audit chain: the server then
plays them as if its recorder had written them. The pictures are solid colours (with a
moving bar), so a test can tell from one frame which segment it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from lensguard.recordings.index import segments_of
from lensguard.recordings.muxer import SegmentMuxer
from lensguard.recordings.sink import Segment
from lensguard.services import Services
from lensguard.settings import load_settings
from tests.recordings.vp8 import FRAME_TICKS, encode, solid

FPS = 30


@dataclass(frozen=True)
class Piece:
    """One segment to record: a colour (BGR), where it starts in its recording and how long."""

    colour: tuple[int, int, int]
    at: float
    """Seconds from the recording's start (a jump over the previous piece's end is a gap)."""
    seconds: float = 2.0


@dataclass(frozen=True)
class Written:
    """A recording as stored: its id and each segment's id and wall-clock span."""

    recording_id: str
    segments: list[tuple[str, datetime, datetime]]


def segment_of(origin: datetime, piece: Piece, *, after_gap: bool) -> Segment:
    """One WebM segment of ``piece`` on its recording's timeline (origin = media 0)."""
    frames = round(piece.seconds * FPS)
    first_pts = round(piece.at * 90_000)
    encoded = encode(frames, keyframes=(0,), first_pts=first_pts, picture=solid(piece.colour))
    muxer = SegmentMuxer()
    for frame in encoded:
        muxer.add(frame.data, frame.pts // 90, frame.keyframe)
    end_ms = (first_pts + frames * FRAME_TICKS) // 90
    muxed = muxer.finish(end_ms)
    return Segment(
        start=origin + timedelta(milliseconds=muxed.start_ms),
        end=origin + timedelta(milliseconds=muxed.end_ms),
        data=muxed.data,
        start_ms=muxed.start_ms,
        end_ms=muxed.end_ms,
        keyframes=muxed.keyframes,
        frames=muxed.frames,
        width=muxed.width,
        height=muxed.height,
        after_gap=after_gap,
    )


async def record(
    config: Path,
    secret: str,
    device_id: str,
    recordings: Sequence[tuple[datetime, Sequence[Piece]]],
) -> list[Written]:
    """Write each (origin, pieces) as one sealed recording of ``device_id``."""
    services = Services.build(load_settings(config, secret_key=secret))
    written: list[Written] = []
    try:
        for origin, pieces in recordings:
            sink = services.recordings.sink(device_id)
            spans: list[tuple[datetime, datetime]] = []
            last_end = 0.0
            for piece in pieces:
                segment = segment_of(origin, piece, after_gap=bool(spans) and piece.at > last_end)
                await sink.segment(segment)
                spans.append((segment.start, segment.end))
                last_end = piece.at + piece.seconds
            assert await sink.close() is not None and not sink.failed
            async with services.db.sessions() as session:
                rows = await segments_of(session, sink.recording_id)
            ids = [row.id for row in rows]
            written.append(
                Written(
                    sink.recording_id, [(i, s, e) for i, (s, e) in zip(ids, spans, strict=True)]
                )
            )
    finally:
        await services.close()
    return written
