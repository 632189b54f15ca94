"""Helpers for the retention tests: real WebM segments recorded through ``EncryptedSink``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from lensguard.audit.log import AuditLog
from lensguard.clock import ManualClock
from lensguard.recordings import index
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.lease import Lease
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.muxer import SegmentMuxer
from lensguard.recordings.retention import RetentionJob
from lensguard.recordings.settings import RetentionSettings
from lensguard.recordings.sink import Segment
from lensguard.recordings.store import SegmentStore
from lensguard.recordings.trim import Crash
from lensguard.recordings.verify import RecordingReport, verify_recording
from lensguard.recordings.writer import EncryptedSink
from lensguard.store.db import Database
from lensguard.store.models import Device
from tests.recordings import vp8

MASTER = "retention-tests-master-secret-0123456789-abcdefghij"
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SECONDS = 4


@functools.cache
def webm() -> bytes:
    """One real WebM segment (VP8 from libvpx, muxed by the recorder's muxer)."""
    muxer = SegmentMuxer()
    for frame in vp8.encode(6, size=(160, 120)):
        muxer.add(frame.data, frame.pts // 90, frame.keyframe)
    return muxer.finish().data


def clock_at(when: datetime) -> ManualClock:
    return ManualClock(start=when.timestamp())


async def record(
    db: Database,
    store: SegmentStore,
    ring: KeyRing,
    audit: AuditLog,
    *,
    device_id: str,
    starts: Sequence[datetime],
    anchor_every: int = 3,
    kind: str = "continuous",
) -> tuple[str, list[RecordingSegment]]:
    """A sealed recording with one segment starting at each of ``starts``."""
    sink = EncryptedSink(
        db, store, ring, audit, device_id=device_id, anchor_every=anchor_every, kind=kind
    )
    data = webm()
    for i, start in enumerate(starts):
        await sink.segment(
            Segment(
                start=start,
                end=start + timedelta(seconds=SECONDS),
                data=data,
                start_ms=i * SECONDS * 1000,
                end_ms=(i + 1) * SECONDS * 1000,
                keyframes=(i * SECONDS * 1000,),
                frames=6,
                width=160,
                height=120,
                after_gap=True,
            )
        )
    assert sink.written == len(starts)
    await sink.close()
    return sink.recording_id, await rows_of(db, sink.recording_id)


def daily(count: int, first: datetime = START) -> list[datetime]:
    """``count`` segment starts one day apart (a recording with gaps between them)."""
    return [first + timedelta(days=i) for i in range(count)]


async def rows_of(db: Database, recording_id: str) -> list[RecordingSegment]:
    async with db.sessions() as session:
        return list(await index.segments_of(session, recording_id))


async def all_rows(db: Database) -> list[RecordingSegment]:
    async with db.sessions() as session:
        result = await session.execute(select(RecordingSegment).order_by(RecordingSegment.id))
        return list(result.scalars().all())


async def verified(db: Database, store: SegmentStore, recording_id: str) -> RecordingReport:
    async with db.sessions() as session:
        return await verify_recording(session, store, recording_id)


async def add_device(db: Database, device_id: str, site: str) -> None:
    async with db.transaction() as session:
        session.add(
            Device(id=device_id, name=f"cam-{device_id}", site=site, kind="camera", capabilities=[])
        )


def job(
    db: Database,
    store: SegmentStore,
    audit: AuditLog,
    clock: ManualClock,
    *,
    lease: Lease,
    settings: RetentionSettings | None = None,
    crash: Crash | None = None,
) -> RetentionJob:
    return RetentionJob(
        db, store, audit, settings or RetentionSettings(), clock=clock, lease=lease, crash=crash
    )
