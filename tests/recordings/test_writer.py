"""``EncryptedSink`` on its own: anchors while running, the seal, a store that fails at once."""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.events import bound
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings import index
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.recorder import RecorderConfig
from lensguard.recordings.segments import read_segment
from lensguard.recordings.sink import Segment
from lensguard.recordings.store import LocalStore, SegmentStore
from lensguard.recordings.verify import verify_recording
from lensguard.recordings.writer import FAILED_EVENT, EncryptedSink
from lensguard.severity import Severity
from lensguard.store.db import Database
from tests.audit.support import make_log

MASTER = "recording-writer-tests-master-secret-0123456789-abc"
START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DEVICE = "dev-sink"
SECONDS = RecorderConfig().segment_seconds


def segment(i: int) -> Segment:
    """The ``i``-th segment of a recording (the sink stores bytes, it never decodes them)."""
    start_ms, end_ms = int(i * SECONDS * 1000), int((i + 1) * SECONDS * 1000)
    return Segment(
        start=START + timedelta(milliseconds=start_ms),
        end=START + timedelta(milliseconds=end_ms),
        data=os.urandom(2000 + i),
        start_ms=start_ms,
        end_ms=end_ms,
        keyframes=(start_ms,),
        frames=120,
        width=320,
        height=240,
        after_gap=False,
    )


async def anchors(db: Database, recording_id: str) -> list[tuple[int, bool]]:
    async with db.sessions() as session:
        result = await session.execute(
            select(AuditEntry.details)
            .where(AuditEntry.action == index.ANCHOR_ACTION, AuditEntry.resource_id == recording_id)
            .order_by(AuditEntry.seq)
        )
        heads = [json.loads(details) for details in result.scalars().all()]
    return [(head["segments"], head["sealed"]) for head in heads]


async def test_the_head_is_anchored_every_n_segments_and_sealed_on_close(
    db: Database, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "recordings")
    ring = KeyRing.from_secret(MASTER)
    sink = EncryptedSink(db, store, ring, make_log(), device_id=DEVICE, anchor_every=2)
    given = [segment(i) for i in range(5)]
    for each in given:
        await sink.segment(each)
    assert await anchors(db, sink.recording_id) == [(2, False), (4, False)]
    sealed = await sink.close()
    assert sealed is not None and (sealed.segments, sealed.sealed) == (5, True)
    assert await sink.close() is sealed  # sealing twice writes one seal
    await sink.segment(segment(5))  # a sealed recording never grows
    assert (sink.written, sink.refused) == (5, 1)
    assert await anchors(db, sink.recording_id) == [(2, False), (4, False), (5, True)]
    async with db.sessions() as session:
        rows = await index.segments_of(session, sink.recording_id)
        report = await verify_recording(session, store, sink.recording_id)
        plains = [await read_segment(session, store, ring, row.id) for row in rows]
    assert report.ok and report.anchored
    assert plains == [each.data for each in given]
    assert [(row.started_at, row.ended_at) for row in rows] == [(s.start, s.end) for s in given]


class FullDisk(LocalStore):
    """A local store on a disk with no room left."""

    async def put(self, segment_id: str, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


async def test_a_store_that_fails_at_once_reports_to_the_bound_publisher(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = Database(sqlite_url)
    store: SegmentStore = FullDisk(tmp_path / "recordings")
    events: list[SecurityEvent] = []
    publisher = EventPublisher()
    publisher.subscribe(events.append, name="test")
    stopped: list[bool] = []
    sink = EncryptedSink(db, store, KeyRing.from_secret(MASTER), make_log(), device_id=DEVICE)
    sink.on_failure.append(lambda: stopped.append(True))
    try:
        with bound(publisher):  # no publisher handed over: the app's bound one is used
            for i in range(3):
                await sink.segment(segment(i))  # never raises
            assert await sink.close() is None  # nothing written, nothing to seal
        assert sink.failed and (sink.written, sink.refused) == (0, 3)
        assert stopped == [True]  # once, however many segments follow
        assert [(e.type, e.severity, e.fields["error"]) for e in events] == [
            (FAILED_EVENT, Severity.HIGH, "OSError")
        ]
        async with db.sessions() as session:
            assert await index.segments_of(session, sink.recording_id) == []
        assert await store.list() == []
    finally:
        await db.dispose()


async def test_anchor_every_is_at_least_one(sqlite_url: str, tmp_path: Path) -> None:
    db = Database(sqlite_url)
    try:
        with pytest.raises(ValueError, match=r"^anchor_every must be 1 or more$"):
            EncryptedSink(
                db,
                LocalStore(tmp_path),
                KeyRing.from_secret(MASTER),
                make_log(),
                device_id=DEVICE,
                anchor_every=0,
            )
    finally:
        await db.dispose()
