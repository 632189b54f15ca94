"""Write and read one encrypted segment: data key, STREAM encryption, store, index.

``open_segment`` reads a segment a chunk at a time (each verified before it is
returned), fetching only the byte ranges it needs: what HTTP Range playback uses.

The bytes are stored before the index row is written, so an index row never names a
segment the store lacks; a crash between the two leaves an unindexed file, which
holds nothing readable (its data key was never stored).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.recordings.crypto import (
    DEFAULT_CHUNK,
    MAX_HEADER,
    SegmentReader,
    decrypt,
    encrypt,
    parse_header,
)
from lensguard.recordings.index import add_segment, wrapped_key
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.store import SegmentNotFound, SegmentStore, new_segment_id
from lensguard.store.db import Database


async def write_segment(
    db: Database,
    store: SegmentStore,
    ring: KeyRing,
    *,
    recording_id: str,
    device_id: str,
    stream: str,
    started_at: datetime,
    ended_at: datetime,
    plaintext: bytes,
    chunk_size: int = DEFAULT_CHUNK,
    kind: str = "continuous",
) -> RecordingSegment:
    """Encrypt ``plaintext`` under a new data key, store it, and index it."""
    key, wrapped = ring.new_data_key()
    stored = encrypt(key, wrapped.key_id, plaintext, chunk_size=chunk_size)
    segment_id = new_segment_id()
    await store.put(segment_id, stored)
    async with db.transaction() as session:
        return await add_segment(
            session,
            segment_id=segment_id,
            recording_id=recording_id,
            device_id=device_id,
            stream=stream,
            started_at=started_at,
            ended_at=ended_at,
            stored=stored,
            wrapped=wrapped,
            kind=kind,
        )


async def _key(session: AsyncSession, ring: KeyRing, segment_id: str) -> bytes:
    row = (
        await session.execute(select(RecordingSegment).where(RecordingSegment.id == segment_id))
    ).scalar_one_or_none()
    if row is None:
        raise SegmentNotFound("no such segment")
    return ring.unwrap(wrapped_key(row))


async def read_segment(
    session: AsyncSession, store: SegmentStore, ring: KeyRing, segment_id: str
) -> bytes:
    """The verified plaintext of a segment; ``KeyUnavailable`` once its key is shredded."""
    key = await _key(session, ring, segment_id)
    return decrypt(key, await store.get(segment_id))


async def open_segment(
    session: AsyncSession, store: SegmentStore, ring: KeyRing, segment_id: str
) -> SegmentChunks:
    """Random access to one segment's chunks, reading only what is asked (HTTP Range)."""
    key = await _key(session, ring, segment_id)
    header = parse_header(await store.get_range(segment_id, 0, MAX_HEADER))
    return SegmentChunks(
        store, segment_id, SegmentReader(key, header), await store.size(segment_id)
    )


class SegmentChunks:
    """One stored segment, read and verified a chunk at a time."""

    def __init__(
        self, store: SegmentStore, segment_id: str, reader: SegmentReader, stored_size: int
    ) -> None:
        self._store = store
        self._id = segment_id
        self._reader = reader
        self._size = stored_size
        self.count = reader.chunk_count(stored_size)
        """How many chunks the segment holds."""
        self.plaintext_size = reader.plaintext_size(stored_size)
        self.chunk_size = reader.header.chunk_size

    async def chunk(self, index: int) -> bytes:
        """The verified plaintext of chunk ``index`` (fetched alone from the store)."""
        offset, length, last = self._reader.chunk_span(index, self._size)
        data = await self._store.get_range(self._id, offset, length)
        return self._reader.open_chunk(index, data, last=last)

    async def read(self, start: int, length: int) -> bytes:
        """Plaintext bytes ``start`` to ``start + length`` (fewer at the end), verified."""
        if start < 0 or length < 0:
            raise ValueError("a range starts at 0 or later and has a length of 0 or more")
        end = min(start + length, self.plaintext_size)
        if start >= end:
            return b""
        first, last = start // self.chunk_size, (end - 1) // self.chunk_size
        parts = [await self.chunk(i) for i in range(first, last + 1)]
        joined = b"".join(parts)
        skip = start - first * self.chunk_size
        return joined[skip : skip + end - start]
