"""Write and read one encrypted segment: data key, STREAM encryption, store, index.

The bytes are stored before the index row is written, so an index row never names a
segment the store lacks; a crash between the two leaves an unindexed file, which
holds nothing readable (its data key was never stored).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.recordings.crypto import DEFAULT_CHUNK, decrypt, encrypt
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
        )


async def read_segment(
    session: AsyncSession, store: SegmentStore, ring: KeyRing, segment_id: str
) -> bytes:
    """The verified plaintext of a segment; ``KeyUnavailable`` once its key is shredded."""
    row = (
        await session.execute(select(RecordingSegment).where(RecordingSegment.id == segment_id))
    ).scalar_one_or_none()
    if row is None:
        raise SegmentNotFound("no such segment")
    key = ring.unwrap(wrapped_key(row))
    return decrypt(key, await store.get(segment_id))
