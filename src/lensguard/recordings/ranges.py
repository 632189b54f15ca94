"""A device's recorded segments over a time range, read from the vault and verified.

``read_range`` finds the index rows of one device's stream that overlap a range,
refuses more than ``max_bytes`` of stored segments, and for each row fetches the
stored bytes, checks them against the row (size and SHA-256), checks the chain link
to the segment before it when both are in the range, and decrypts them (every chunk
authenticates). Nothing unverified is returned: a segment that fails raises
``TamperedSegment`` (a ``SegmentIntegrityError`` naming its row). ``clip_range``
turns the result into one playable WebM (``clip.py``): what range downloads and
evidence exports use.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.recordings.clip import Clip, ClipSource, build_clip
from lensguard.recordings.crypto import SegmentIntegrityError, decrypt
from lensguard.recordings.index import link, wrapped_key
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.store import SegmentNotFound, SegmentStore

DEFAULT_MAX_BYTES = 2 * 1024**3
"""The most stored bytes one range read fetches, unless the caller says less."""


class NothingRecorded(LookupError):
    """Raised when no segment of the device overlaps the range."""


class RangeTooLarge(ValueError):
    """Raised when the segments of a range hold more than the limit allows."""


class TamperedSegment(SegmentIntegrityError):
    """A segment of the range failed verification; ``row`` is its index row."""

    def __init__(self, row: RecordingSegment, reason: str) -> None:
        super().__init__(f"segment {row.id} {reason}")
        self.row = row


@dataclass(frozen=True)
class RangeSegment:
    """One verified segment of a range: its index row, its plaintext and both digests."""

    row: RecordingSegment
    plaintext: bytes
    stored_sha256: str
    plaintext_sha256: str
    link: str
    """This segment's chain link (what the next segment's ``prev_digest`` holds)."""


@dataclass(frozen=True)
class RangeClip:
    """A range as one clip, and the segments it was built from."""

    clip: Clip
    segments: Sequence[RangeSegment]


async def rows_in_range(
    session: AsyncSession, device_id: str, start: datetime, end: datetime, *, stream: str
) -> Sequence[RecordingSegment]:
    """Index rows of ``device_id``'s ``stream`` that overlap ``[start, end)``, in time order."""
    result = await session.execute(
        select(RecordingSegment)
        .where(
            RecordingSegment.device_id == device_id,
            RecordingSegment.stream == stream,
            RecordingSegment.started_at < end,
            RecordingSegment.ended_at > start,
        )
        .order_by(RecordingSegment.started_at, RecordingSegment.recording_id, RecordingSegment.seq)
    )
    return result.scalars().all()


async def read_range(
    session: AsyncSession,
    store: SegmentStore,
    ring: KeyRing,
    device_id: str,
    *,
    start: datetime,
    end: datetime,
    stream: str = "processed",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[RangeSegment]:
    """Every segment of the range, verified and decrypted (``SegmentIntegrityError``)."""
    rows = await rows_in_range(session, device_id, start, end, stream=stream)
    if not rows:
        raise NothingRecorded("nothing was recorded in the range")
    if sum(row.size for row in rows) > max_bytes:
        raise RangeTooLarge(f"the range holds more than {max_bytes} bytes of recordings")
    out: list[RangeSegment] = []
    previous: dict[str, RangeSegment] = {}
    for row in rows:
        try:
            stored = await store.get(row.id)
        except SegmentNotFound:
            raise TamperedSegment(row, "is missing from the store") from None
        stored_sha = hashlib.sha256(stored).hexdigest()
        if len(stored) != row.size or not hmac.compare_digest(stored_sha, row.digest):
            raise TamperedSegment(row, "differs from the index")
        before = previous.get(row.recording_id)
        if before is not None and (
            before.row.seq + 1 != row.seq or not hmac.compare_digest(row.prev_digest, before.link)
        ):
            raise TamperedSegment(row, "does not follow the one before it")
        key = ring.unwrap(wrapped_key(row))
        try:
            plaintext = decrypt(key, stored)
        except SegmentIntegrityError:
            raise TamperedSegment(row, "does not decrypt (a chunk failed to verify)") from None
        segment = RangeSegment(
            row=row,
            plaintext=plaintext,
            stored_sha256=stored_sha,
            plaintext_sha256=hashlib.sha256(plaintext).hexdigest(),
            link=link(row),
        )
        previous[row.recording_id] = segment
        out.append(segment)
    return out


async def clip_range(
    session: AsyncSession,
    store: SegmentStore,
    ring: KeyRing,
    device_id: str,
    *,
    start: datetime,
    end: datetime,
    stream: str = "processed",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> RangeClip:
    """One playable WebM of the range, from segments read and verified as ``read_range``."""
    segments = await read_range(
        session, store, ring, device_id, start=start, end=end, stream=stream, max_bytes=max_bytes
    )
    sources = [ClipSource(s.row.started_at, s.plaintext) for s in segments]
    return RangeClip(build_clip(sources, start, end), segments)
