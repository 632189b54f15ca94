"""The retention job on SQLite and PostgreSQL, local and S3: what goes, in which order, and
that what is left still verifies."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.recordings.crypto import decrypt, parse_header
from lensguard.recordings.keys import KeyRing, KeyUnavailable
from lensguard.recordings.lease import FileLease
from lensguard.recordings.retention import RUN_ACTION
from lensguard.recordings.segments import read_segment
from lensguard.recordings.store import SegmentNotFound, SegmentStore
from lensguard.recordings.trim import TRIM_ACTION
from lensguard.store.db import Database
from tests.audit.support import make_log
from tests.recordings.retention_support import (
    MASTER,
    START,
    add_device,
    all_rows,
    clock_at,
    daily,
    job,
    record,
    rows_of,
    verified,
)

DEVICE = "cam-retention-1"


class Stop(Exception):
    """Stands for the process dying between two steps."""


async def audit_details(db: Database, action: str) -> list[dict[str, object]]:
    async with db.sessions() as session:
        result = await session.execute(
            select(AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        )
        return [json.loads(raw) for raw in result.scalars().all()]


async def test_expired_segments_go_and_what_is_left_verifies(
    db: Database, segment_store: SegmentStore, tmp_path: Path
) -> None:
    ring, audit = KeyRing.from_secret(MASTER), make_log()
    old, _ = await record(db, segment_store, ring, audit, device_id=DEVICE, starts=daily(3))
    long, rows = await record(
        db,
        segment_store,
        ring,
        audit,
        device_id=DEVICE,
        starts=daily(6, START + timedelta(days=10)),
    )
    # 90 days after the 13th day: the old recording and the first 3 of the long one expired.
    clock = clock_at(START + timedelta(days=90 + 12, hours=1))
    report = await job(db, segment_store, audit, clock, lease=FileLease(tmp_path / "l")).run()

    assert report.removed["continuous"].segments == 6
    assert report.removed["continuous"].bytes == 6 * rows[0].size
    assert await rows_of(db, old) == []
    assert [r.seq for r in await rows_of(db, long)] == [3, 4, 5]
    assert sorted(await segment_store.list()) == sorted(r.id for r in rows[3:])
    long_report = await verified(db, segment_store, long)
    assert long_report.ok, long_report.problems
    assert long_report.trimmed == 3
    (run,) = await audit_details(db, RUN_ACTION)
    assert run["segments"] == 6 and run["held_skipped"] == 0
    assert run["removed"] == {
        "continuous": {"segments": 6, "bytes": 6 * rows[0].size},
        "event": {"segments": 0, "bytes": 0},
        "export": {"segments": 0, "bytes": 0, "bundles": 0},
    }
    cuts = await audit_details(db, TRIM_ACTION)
    assert sorted((c["first_seq"], c["last_seq"], c["next_seq"] or -1) for c in cuts) == [
        (0, 2, -1),  # the old recording, tail and all
        (0, 2, 3),  # the long one resumes at segment 3
    ]

    # Idempotent: a second run finds nothing more.
    again = await job(db, segment_store, audit, clock, lease=FileLease(tmp_path / "l")).run()
    assert again.segments == 0
    assert len(await audit_details(db, TRIM_ACTION)) == 2


@pytest.mark.parametrize("step", ["keys", "files", "rows"])
async def test_a_run_stopped_after_any_step_is_finished_by_the_next(
    db: Database, segment_store: SegmentStore, tmp_path: Path, step: str
) -> None:
    ring, audit = KeyRing.from_secret(MASTER), make_log()
    rid, rows = await record(db, segment_store, ring, audit, device_id=DEVICE, starts=daily(5))
    copy = await segment_store.get(rows[0].id)
    clock = clock_at(START + timedelta(days=92, hours=1))  # segments 0, 1 and 2 expired

    def crash(done: str) -> None:
        if done == step:
            raise Stop(done)

    with pytest.raises(Stop):
        await job(
            db, segment_store, audit, clock, lease=FileLease(tmp_path / "l"), crash=crash
        ).run()
    left = {r.id: r for r in await rows_of(db, rid)}
    if step in ("keys", "files"):
        # Keys went first: the rows are still there, and nothing can open those bytes.
        assert all(left[r.id].wrapped_key is None for r in rows[:3])
        async with db.sessions() as session:
            with pytest.raises(KeyUnavailable):
                await read_segment(session, segment_store, ring, rows[0].id)
        with pytest.raises(KeyUnavailable):
            decrypt(ring.unwrap(None), copy)
        assert (await verified(db, segment_store, rid)).ok
    if step == "files":
        with pytest.raises(SegmentNotFound):
            await segment_store.get(rows[0].id)

    await job(db, segment_store, audit, clock, lease=FileLease(tmp_path / "l")).run()
    assert [r.seq for r in await rows_of(db, rid)] == [3, 4]
    assert sorted(await segment_store.list()) == sorted(r.id for r in rows[3:])
    report = await verified(db, segment_store, rid)
    assert report.ok, report.problems
    assert len(await audit_details(db, TRIM_ACTION)) == 1
    # A copy of the bytes kept from before is of no use: its data key is nowhere any more.
    key_id = parse_header(copy).key_id
    assert key_id == rows[0].key_id
    assert key_id not in {r.key_id for r in await all_rows(db)}


async def test_a_legal_hold_keeps_its_segments_and_the_rest_still_goes(
    db: Database, segment_store: SegmentStore, tmp_path: Path
) -> None:
    from lensguard.recordings.hold_models import LegalHold

    ring, audit = KeyRing.from_secret(MASTER), make_log()
    rid, rows = await record(db, segment_store, ring, audit, device_id=DEVICE, starts=daily(6))
    async with db.transaction() as session:
        session.add(
            LegalHold(
                id="h" * 32,
                device_id=DEVICE,
                site="lab",
                range_start=rows[2].started_at - timedelta(hours=1),
                range_end=rows[2].ended_at,
                reason="case 2026-113, preserve",
                created_by="u" * 32,
                created_at=START,
            )
        )
    clock = clock_at(START + timedelta(days=94, hours=1))  # segments 0 to 4 expired
    lease = FileLease(tmp_path / "l")
    report = await job(db, segment_store, audit, clock, lease=lease).run()
    assert report.held.segments == 1
    assert [r.seq for r in await rows_of(db, rid)] == [2, 5]
    checked = await verified(db, segment_store, rid)
    assert checked.ok, checked.problems
    assert checked.trimmed == 4
    (run,) = await audit_details(db, RUN_ACTION)
    assert run["held_skipped"] == 1 and run["segments"] == 4

    async with db.transaction() as session:
        hold = await session.get(LegalHold, "h" * 32)
        assert hold is not None
        hold.released_at = clock.now()
    await job(db, segment_store, audit, clock, lease=lease).run()
    assert [r.seq for r in await rows_of(db, rid)] == [5]
    assert (await verified(db, segment_store, rid)).ok


async def test_a_site_keeps_its_own_days_and_a_dry_run_removes_nothing(
    db: Database, segment_store: SegmentStore, tmp_path: Path
) -> None:
    from lensguard.recordings.hold_models import SiteRetention

    ring, audit = KeyRing.from_secret(MASTER), make_log()
    await add_device(db, "short1", "short-site")
    await add_device(db, "long1", "long-site")
    short, _ = await record(db, segment_store, ring, audit, device_id="short1", starts=daily(3))
    long, _ = await record(db, segment_store, ring, audit, device_id="long1", starts=daily(3))
    async with db.transaction() as session:
        session.add(SiteRetention(site="short-site", continuous_days=7, updated_by="u" * 32))
    clock = clock_at(START + timedelta(days=8, hours=1))
    lease = FileLease(tmp_path / "l")

    dry = await job(db, segment_store, audit, clock, lease=lease).run(dry_run=True)
    assert dry.segments == 2
    assert set(dry.devices) == {"short1"}
    assert dry.devices["short1"].oldest == START
    assert len(await rows_of(db, short)) == 3
    assert await audit_details(db, RUN_ACTION) == []

    await job(db, segment_store, audit, clock, lease=lease).run()
    assert [r.seq for r in await rows_of(db, short)] == [2]
    assert len(await rows_of(db, long)) == 3


async def test_a_removed_row_without_a_recorded_cut_is_still_reported(
    db: Database, segment_store: SegmentStore, tmp_path: Path
) -> None:
    from sqlalchemy import delete

    from lensguard.recordings.models import RecordingSegment

    ring, audit = KeyRing.from_secret(MASTER), make_log()
    rid, rows = await record(db, segment_store, ring, audit, device_id=DEVICE, starts=daily(6))
    clock = clock_at(START + timedelta(days=91, hours=1))  # segments 0 and 1 expired
    await job(db, segment_store, audit, clock, lease=FileLease(tmp_path / "l")).run()
    async with db.transaction() as session:
        await session.execute(delete(RecordingSegment).where(RecordingSegment.id == rows[3].id))
    report = await verified(db, segment_store, rid)
    assert [(p.seq, p.reason) for p in report.problems] == [
        (3, "segment 3 missing from the index"),
        (None, "ends early: the audit chain anchored 6 segments"),
    ]


async def test_one_run_at_a_time(db: Database, segment_store: SegmentStore, tmp_path: Path) -> None:
    ring, audit = KeyRing.from_secret(MASTER), make_log()
    rid, _ = await record(db, segment_store, ring, audit, device_id=DEVICE, starts=daily(2))
    clock = clock_at(START + timedelta(days=95))
    holder = FileLease(tmp_path / "l")
    assert await holder.acquire()
    skipped = await job(db, segment_store, audit, clock, lease=FileLease(tmp_path / "l")).run()
    assert not skipped.ran and skipped.segments == 0
    assert len(await rows_of(db, rid)) == 2
    await holder.release()
    done = await job(db, segment_store, audit, clock, lease=FileLease(tmp_path / "l")).run()
    assert done.ran and done.segments == 2


async def test_event_clips_are_kept_longer_than_continuous_video(
    db: Database, segment_store: SegmentStore, tmp_path: Path
) -> None:
    ring, audit = KeyRing.from_secret(MASTER), make_log()
    video, _ = await record(db, segment_store, ring, audit, device_id=DEVICE, starts=daily(2))
    clip, _ = await record(
        db, segment_store, ring, audit, device_id=DEVICE, starts=daily(2), kind="event"
    )
    lease = FileLease(tmp_path / "l")
    report = await job(
        db, segment_store, audit, clock_at(START + timedelta(days=200)), lease=lease
    ).run()
    assert report.removed["continuous"].segments == 2
    assert report.removed["event"].segments == 0
    assert await rows_of(db, video) == []
    assert len(await rows_of(db, clip)) == 2
    later = await job(
        db, segment_store, audit, clock_at(START + timedelta(days=367)), lease=lease
    ).run()
    assert later.removed["event"].segments == 2
    assert await rows_of(db, clip) == []
