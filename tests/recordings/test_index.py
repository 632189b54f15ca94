"""The segment index on SQLite and PostgreSQL with local and S3 stores: chain, verify, shred."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from lensguard.audit.log import AuditLog
from lensguard.recordings import index
from lensguard.recordings.crypto import SegmentIntegrityError
from lensguard.recordings.keys import KeyRing, KeyUnavailable
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.segments import open_segment, read_segment, write_segment
from lensguard.recordings.store import SegmentStore, new_segment_id
from lensguard.recordings.verify import verify_recording
from lensguard.store.db import Database
from tests.audit.support import make_log

MASTER = "recording-tests-master-secret-0123456789-abcdefgh"
START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DEVICE = "d" * 32


async def record(
    db: Database, store: SegmentStore, ring: KeyRing, *, count: int = 4, seal: bool = True
) -> tuple[str, list[RecordingSegment], list[bytes], AuditLog]:
    recording_id = new_segment_id()
    log = make_log()
    rows, plains = [], []
    for i in range(count):
        plain = os.urandom(3000 + i)
        rows.append(
            await write_segment(
                db,
                store,
                ring,
                recording_id=recording_id,
                device_id=DEVICE,
                stream="processed",
                started_at=START + timedelta(seconds=6 * i),
                ended_at=START + timedelta(seconds=6 * (i + 1)),
                plaintext=plain,
                chunk_size=1024,
            )
        )
        plains.append(plain)
    if seal:
        async with db.transaction() as session:
            await index.anchor(session, log, recording_id, sealed=True)
    return recording_id, rows, plains, log


async def reasons(db: Database, store: SegmentStore, recording_id: str) -> list[str]:
    async with db.sessions() as session:
        report = await verify_recording(session, store, recording_id)
    return [f"{p.seq}: {p.reason}" for p in report.problems]


async def test_segments_chain_and_read_back(db: Database, segment_store: SegmentStore) -> None:
    ring = KeyRing.from_secret(MASTER)
    recording_id, rows, plains, _ = await record(db, segment_store, ring)
    assert [row.seq for row in rows] == [0, 1, 2, 3]
    assert rows[0].prev_digest == index.GENESIS
    assert rows[2].prev_digest == index.link(rows[1])
    async with db.sessions() as session:
        assert await read_segment(session, segment_store, ring, rows[2].id) == plains[2]
        report = await verify_recording(session, segment_store, recording_id)
        anchor = await index.latest_anchor(session, recording_id)
    assert report.ok and report.anchored and report.segments == 4
    assert anchor is not None and anchor.segments == 4 and anchor.sealed


async def test_verify_detects_an_edited_segment(db: Database, segment_store: SegmentStore) -> None:
    ring = KeyRing.from_secret(MASTER)
    recording_id, rows, _, _ = await record(db, segment_store, ring)
    data = bytearray(await segment_store.get(rows[1].id))
    data[-3] ^= 0x10
    await segment_store.put(rows[1].id, bytes(data))
    assert await reasons(db, segment_store, recording_id) == [
        "1: stored bytes differ from the index (edited)"
    ]
    async with db.sessions() as session:
        with pytest.raises(SegmentIntegrityError):
            await read_segment(session, segment_store, ring, rows[1].id)


async def test_verify_detects_a_removed_segment(db: Database, segment_store: SegmentStore) -> None:
    ring = KeyRing.from_secret(MASTER)
    recording_id, rows, _, _ = await record(db, segment_store, ring)
    async with db.transaction() as session:
        await session.delete(await session.get(RecordingSegment, rows[1].id))
    await segment_store.delete(rows[1].id)
    assert await reasons(db, segment_store, recording_id) == [
        "1: segment 1 missing from the index",
        "None: ends early: the audit chain anchored 4 segments",
    ]


async def test_verify_detects_a_renumbered_removal(
    db: Database, segment_store: SegmentStore
) -> None:
    ring = KeyRing.from_secret(MASTER)
    recording_id, rows, _, _ = await record(db, segment_store, ring)
    async with db.transaction() as session:
        await session.delete(await session.get(RecordingSegment, rows[1].id))
        await session.flush()
        for row in rows[2:]:
            await session.execute(
                update(RecordingSegment)
                .where(RecordingSegment.id == row.id)
                .values(seq=row.seq - 1)
            )
    problems = await reasons(db, segment_store, recording_id)
    assert problems[0] == "1: does not follow segment 0 (removed, swapped or edited)"


async def test_verify_detects_swapped_segments(db: Database, segment_store: SegmentStore) -> None:
    ring = KeyRing.from_secret(MASTER)
    recording_id, rows, _, _ = await record(db, segment_store, ring)
    first, second = rows[1], rows[2]
    async with db.transaction() as session:
        for row, seq in ((first, 100), (second, 1), (first, 2)):
            await session.execute(
                update(RecordingSegment).where(RecordingSegment.id == row.id).values(seq=seq)
            )
    problems = await reasons(db, segment_store, recording_id)
    assert "1: does not follow segment 0 (removed, swapped or edited)" in problems
    assert "2: does not follow segment 1 (removed, swapped or edited)" in problems


async def test_verify_detects_a_dropped_last_segment_through_the_anchor(
    db: Database, segment_store: SegmentStore
) -> None:
    ring = KeyRing.from_secret(MASTER)
    recording_id, rows, _, _ = await record(db, segment_store, ring)
    async with db.transaction() as session:
        await session.delete(await session.get(RecordingSegment, rows[-1].id))
    assert await reasons(db, segment_store, recording_id) == [
        "None: ends early: the audit chain anchored 4 segments"
    ]


async def test_verify_detects_edited_index_metadata(
    db: Database, segment_store: SegmentStore
) -> None:
    ring = KeyRing.from_secret(MASTER)
    recording_id, rows, _, _ = await record(db, segment_store, ring)
    async with db.transaction() as session:
        await session.execute(
            update(RecordingSegment)
            .where(RecordingSegment.id == rows[-1].id)
            .values(started_at=START - timedelta(days=1))
        )
    assert await reasons(db, segment_store, recording_id) == [
        "None: does not match the head anchored in the audit chain"
    ]


async def test_crypto_shredding_makes_a_segment_unreadable(
    db: Database, segment_store: SegmentStore
) -> None:
    ring = KeyRing.from_secret(MASTER)
    recording_id, rows, _, _ = await record(db, segment_store, ring, count=2)
    async with db.transaction() as session:
        assert await index.shred(session, [rows[0].id]) == 1
        assert await index.shred(session, [rows[0].id]) == 0
    async with db.sessions() as session:
        with pytest.raises(KeyUnavailable, match="deleted"):
            await read_segment(session, segment_store, ring, rows[0].id)
        stored = (
            await session.execute(
                select(RecordingSegment.wrapped_key).where(RecordingSegment.id == rows[0].id)
            )
        ).scalar_one()
        report = await verify_recording(session, segment_store, recording_id)
    assert stored is None
    # The bytes are still there, and still verify, but no key anywhere opens them.
    assert report.ok and report.shredded == 1
    await segment_store.delete(rows[0].id)
    assert await reasons(db, segment_store, recording_id) == []


async def test_rewrap_moves_keys_and_leaves_the_video_alone(
    db: Database, segment_store: SegmentStore
) -> None:
    old = KeyRing.from_secret(MASTER, versions=[1])
    recording_id, rows, plains, _ = await record(db, segment_store, old, count=3)
    before = {row.id: await segment_store.get(row.id) for row in rows}
    both = KeyRing.from_secret(MASTER, versions=[1, 2])
    async with db.transaction() as session:
        assert await index.rewrap_all(session, both, batch=2) == 3
        assert await index.rewrap_all(session, both) == 0
    new_only = KeyRing.from_secret(MASTER, versions=[2])
    async with db.sessions() as session:
        for row, plain in zip(rows, plains, strict=True):
            assert await read_segment(session, segment_store, new_only, row.id) == plain
            assert await segment_store.get(row.id) == before[row.id]
        report = await verify_recording(session, segment_store, recording_id)
    assert report.ok


async def test_a_recording_holds_one_device_stream(
    db: Database, segment_store: SegmentStore
) -> None:
    ring = KeyRing.from_secret(MASTER)
    recording_id, _, _, _ = await record(db, segment_store, ring, count=1, seal=False)
    with pytest.raises(ValueError, match="one device's one stream"):
        await write_segment(
            db,
            segment_store,
            ring,
            recording_id=recording_id,
            device_id=DEVICE,
            stream="raw",
            started_at=START,
            ended_at=START,
            plaintext=b"x",
        )


async def test_random_access_reads_only_the_chunks_asked_for(
    db: Database, segment_store: SegmentStore
) -> None:
    ring = KeyRing.from_secret(MASTER)
    _, rows, plains, _ = await record(db, segment_store, ring, count=1, seal=False)
    plain, segment_id = plains[0], rows[0].id  # 3000 bytes in 1024-byte chunks
    async with db.sessions() as session:
        chunks = await open_segment(session, segment_store, ring, segment_id)
    assert (chunks.count, chunks.plaintext_size) == (3, len(plain))
    assert await chunks.chunk(1) == plain[1024:2048]
    assert await chunks.read(1000, 1100) == plain[1000:2100]
    assert await chunks.read(2990, 100) == plain[2990:]
    assert await chunks.read(5000, 10) == b""
    # A flipped byte in chunk 2 fails only reads that touch chunk 2.
    data = bytearray(await segment_store.get(segment_id))
    data[-1] ^= 0x01
    await segment_store.put(segment_id, bytes(data))
    assert await chunks.read(0, 2048) == plain[:2048]
    with pytest.raises(SegmentIntegrityError, match="chunk 2"):
        await chunks.read(2000, 100)
