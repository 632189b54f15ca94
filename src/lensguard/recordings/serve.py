"""Serve one segment's plaintext, verified before any byte leaves: whole or an HTTP Range.

A whole segment is checked against the index digest (SHA-256 of the stored bytes)
and then decrypted; every chunk authenticates (AES-GCM) before the response is
built. A Range decrypts only the chunks it touches, each verified alone. Nothing
unverified is ever returned: the caller gets all the bytes asked for, or an error.

- a stored segment that differs from its index (missing, another size, another key
  id, a digest or a chunk that does not verify) raises ``SegmentTampered``;
- a segment whose data key was deleted (crypto-shredded) raises ``SegmentShredded``;
- a Range past the end raises ``RangeNotSatisfiable`` (416, ``Content-Range: bytes */N``).

Only the first range of a multi-range request is served (no multipart responses);
a Range header that does not parse is ignored and the whole segment is served, as
RFC 9110 allows.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from lensguard.errors import LensguardError, ServiceUnavailable
from lensguard.recordings.crypto import (
    MAX_HEADER,
    SegmentIntegrityError,
    SegmentReader,
    decrypt,
    parse_header,
)
from lensguard.recordings.index import wrapped_key
from lensguard.recordings.keys import KeyRing, KeyUnavailable
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.segments import SegmentChunks
from lensguard.recordings.store import SegmentNotFound, SegmentStore

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
MAX_RANGE_HEADER = 1024


class SegmentTampered(LensguardError):
    """The stored segment is not what the index recorded: altered, cut, swapped or gone."""

    status = 409
    slug = "recording-integrity"
    title = "Recording failed verification"


class SegmentShredded(LensguardError):
    """The segment's data key was deleted: nobody can ever read it again."""

    status = 410
    slug = "recording-shredded"
    title = "Recording deleted"


class RangeNotSatisfiable(LensguardError):
    """The Range starts past the end of the segment."""

    status = 416
    slug = "range-not-satisfiable"
    title = "Range not satisfiable"

    def __init__(self, total: int) -> None:
        super().__init__(f"the segment holds {total} bytes; ask for a range inside them")
        self.total = total

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.total}"}


@dataclass(frozen=True)
class Served:
    """Verified plaintext of a segment (or of one range of it) and where it lies."""

    data: bytes
    first: int
    """Offset of the first byte served."""
    total: int
    """The whole segment's plaintext length."""
    partial: bool
    """True for a Range answer (206)."""

    @property
    def last(self) -> int:
        """Offset of the last byte served (inclusive, as Content-Range says)."""
        return self.first + len(self.data) - 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.first}-{self.last}/{self.total}"


def parse_range(header: str | None, total: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive for the first range of ``header``; None for the whole.

    Raises ``RangeNotSatisfiable`` when the range lies past the end (or is empty).
    """
    if header is None or len(header) > MAX_RANGE_HEADER:
        return None
    match = _RANGE.match(header.split(",", 1)[0])
    if match is None:
        return None
    start_text, end_text = match.groups()
    if not start_text and not end_text:
        return None
    if not start_text:  # a suffix: the last N bytes
        suffix = int(end_text)
        if suffix == 0 or total == 0:
            raise RangeNotSatisfiable(total)
        return max(0, total - suffix), total - 1
    first = int(start_text)
    if end_text and int(end_text) < first:
        return None  # invalid syntax: ignored, the whole segment is served
    if first >= total:
        raise RangeNotSatisfiable(total)
    last = int(end_text) if end_text else total - 1
    return first, min(last, total - 1)


async def serve_segment(
    store: SegmentStore, ring: KeyRing, row: RecordingSegment, range_header: str | None
) -> Served:
    """The verified plaintext of ``row`` (or of the first range ``range_header`` names)."""
    wrapped = wrapped_key(row)
    if wrapped is None:
        raise SegmentShredded(
            "this segment's key was deleted (retention or erasure); it can never be played"
        )
    try:
        key = ring.unwrap(wrapped)
    except KeyUnavailable:
        raise ServiceUnavailable(
            "this segment's key cannot be opened on this node; try again shortly"
        ) from None
    try:
        size = await store.size(row.id)
        if size != row.size:
            raise SegmentIntegrityError("stored size differs from the index")
        header = parse_header(await store.get_range(row.id, 0, MAX_HEADER))
        if header.key_id != row.key_id:
            raise SegmentIntegrityError("stored segment is under another key")
        reader = SegmentReader(key, header)
        total = reader.plaintext_size(size)
        wanted = parse_range(range_header, total)
        if wanted is None or wanted == (0, total - 1):
            stored = await store.get(row.id)
            if not hmac.compare_digest(hashlib.sha256(stored).hexdigest(), row.digest):
                raise SegmentIntegrityError("stored bytes differ from the index digest")
            return Served(decrypt(key, stored), 0, total, partial=wanted is not None)
        first, last = wanted
        chunks = SegmentChunks(store, row.id, reader, size)
        return Served(await chunks.read(first, last - first + 1), first, total, partial=True)
    except SegmentNotFound:
        raise SegmentTampered(
            "this segment is in the index but missing from the store; it was reported"
        ) from None
    except SegmentIntegrityError:
        raise SegmentTampered(
            "this segment failed verification (its stored bytes were changed); "
            "nothing of it was served and it was reported"
        ) from None
