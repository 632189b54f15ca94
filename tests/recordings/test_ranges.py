"""A device's range read back from the vault: verified, decrypted and made into one clip.

Real VP8 recordings kept by EncryptedSink, on SQLite and PostgreSQL, on the local store
and S3 (moto).
"""

from __future__ import annotations

import io

import av
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.recordings import index
from lensguard.recordings.crypto import SegmentIntegrityError
from lensguard.recordings.keys import KeyRing, KeyUnavailable
from lensguard.recordings.ranges import (
    NothingRecorded,
    RangeSegment,
    RangeTooLarge,
    clip_range,
    read_range,
)
from lensguard.recordings.store import SegmentStore
from lensguard.store.db import Database
from tests.audit.support import make_log
from tests.recordings.recorded import at, record

MASTER = "recording-range-tests-master-secret-0123456789-abc"
DEVICE, OTHER = "dev-range", "dev-other"
RING = KeyRing.from_secret(MASTER)


async def read(
    session: AsyncSession,
    store: SegmentStore,
    start_ms: int,
    end_ms: int,
    *,
    device_id: str = DEVICE,
    max_bytes: int = 10**9,
) -> list[RangeSegment]:
    return await read_range(
        session, store, RING, device_id, start=at(start_ms), end=at(end_ms), max_bytes=max_bytes
    )


async def test_a_range_becomes_one_clip_of_the_devices_frames_only(
    db: Database, segment_store: SegmentStore
) -> None:
    audit = make_log()
    mine = await record(db, segment_store, RING, audit, device_id=DEVICE)
    await record(db, segment_store, RING, audit, device_id=OTHER)  # same times, other device
    async with db.sessions() as session:
        ranged = await clip_range(
            session, segment_store, RING, DEVICE, start=at(1200), end=at(2500)
        )
    assert [s.row.seq for s in ranged.segments] == [1, 2]
    assert {s.row.recording_id for s in ranged.segments} == {mine.recording_id}
    assert [s.plaintext for s in ranged.segments] == [seg.data for seg in mine.segments[1:]]
    assert ranged.segments[1].row.prev_digest == ranged.segments[0].link
    clip = ranged.clip
    assert (clip.start, clip.end, clip.frames) == (at(1000), at(2500), 45)
    with av.open(io.BytesIO(clip.data), "r") as container:
        packets = [bytes(p) for p in container.demux(video=0) if p.size]
    assert packets == [f.data for f in mine.frames[30:75]]


async def test_nothing_recorded_too_large_tampered_or_shredded_is_refused(
    db: Database, segment_store: SegmentStore
) -> None:
    mine = await record(db, segment_store, RING, make_log(), device_id=DEVICE)
    async with db.sessions() as session:
        with pytest.raises(NothingRecorded):
            await read(session, segment_store, 5000, 6000)
        with pytest.raises(NothingRecorded):
            await read(session, segment_store, 0, 3000, device_id=OTHER)
        rows = await index.segments_of(session, mine.recording_id)
        total = sum(row.size for row in rows)
        assert len(await read(session, segment_store, 0, 3000, max_bytes=total)) == 3
        with pytest.raises(RangeTooLarge):
            await read(session, segment_store, 0, 3000, max_bytes=total - 1)

    stored = bytearray(await segment_store.get(rows[1].id))
    stored[-5] ^= 0x01
    await segment_store.put(rows[1].id, bytes(stored))
    async with db.sessions() as session:
        with pytest.raises(SegmentIntegrityError, match=rf"^segment {rows[1].id} differs"):
            await read(session, segment_store, 0, 3000)
        assert len(await read(session, segment_store, 2000, 3000)) == 1

    await segment_store.delete(rows[2].id)
    async with db.sessions() as session:
        with pytest.raises(SegmentIntegrityError, match=r"is missing from the store$"):
            await read(session, segment_store, 2000, 3000)

    async with db.transaction() as session:
        assert await index.shred(session, [rows[0].id]) == 1
    async with db.sessions() as session:
        with pytest.raises(KeyUnavailable):
            await read(session, segment_store, 0, 900)
