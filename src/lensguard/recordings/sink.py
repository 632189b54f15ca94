"""Where the recorder hands finished segments: the seam between capture and storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lensguard.recordings.muxer import MIME_TYPE


@dataclass(frozen=True)
class Segment:
    """One finished segment of one recording: a whole WebM file and where it lies in time."""

    start: datetime
    """Wall-clock time (UTC) of its first frame."""
    end: datetime
    """Wall-clock time (UTC) its last frame ends; the next segment starts here unless a gap."""
    data: bytes
    start_ms: int
    """Its first timestamp on the recording's media timeline (what MSE sees)."""
    end_ms: int
    keyframes: tuple[int, ...]
    """Media timestamps (ms) of its keyframes: the points a seek can start from."""
    frames: int
    width: int
    height: int
    after_gap: bool
    """True when the recording had a gap (publisher gone, new stream) right before it."""
    mime_type: str = MIME_TYPE


class SegmentSink(Protocol):
    """Takes finished segments in recording order (the store encrypts and indexes them)."""

    async def segment(self, segment: Segment) -> None:
        """Keep ``segment``; raising loses this one segment, not the recording."""
