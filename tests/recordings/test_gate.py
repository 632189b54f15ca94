"""``EventGate`` with real encrypted sinks (SQLite and PostgreSQL, local store), ManualClock.

Segments are 2 s each and arrive as a recorder would hand them; the gate's pre-roll
lives in memory only, and a trigger opens one ``event`` recording from the pre-roll
to the post-roll after the last trigger.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings import index
from lensguard.recordings.event import event_gate
from lensguard.recordings.gate import ENDED, STALL_GRACE, STARTED, EventGate
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.settings import RecordingSettings
from lensguard.recordings.sink import Segment
from lensguard.recordings.store import LocalStore
from lensguard.recordings.vault import RecordingVault
from lensguard.recordings.verify import verify_recording
from lensguard.store.db import Database
from tests.audit.support import make_log

MASTER = "recording-gate-tests-master-secret-0123456789-abcd"
START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DEVICE = "dev-gate"
SECONDS = 2


def segment(i: int, size: int = 1500) -> Segment:
    """The ``i``-th 2 s segment of the stream, from START."""
    start_ms, end_ms = i * SECONDS * 1000, (i + 1) * SECONDS * 1000
    return Segment(
        start=START + timedelta(milliseconds=start_ms),
        end=START + timedelta(milliseconds=end_ms),
        data=os.urandom(size),
        start_ms=start_ms,
        end_ms=end_ms,
        keyframes=(start_ms,),
        frames=60,
        width=320,
        height=240,
        after_gap=False,
    )


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def make_vault(db: Database, root: Path, **settings: Any) -> RecordingVault:
    return RecordingVault(
        db=db,
        store=LocalStore(root / "recordings"),
        ring=KeyRing.from_secret(MASTER),
        audit=make_log(),
        events=EventPublisher(),
        settings=RecordingSettings(**settings),
    )


def gate_on(vault: RecordingVault, clock: ManualClock, **kwargs: Any) -> EventGate:
    options: dict[str, Any] = {"pre_roll": 5.0, "post_roll": 4.0} | kwargs
    return event_gate(vault, DEVICE, clock=clock, **options)


async def rows(db: Database) -> list[RecordingSegment]:
    async with db.sessions() as session:
        result = await session.execute(
            select(RecordingSegment).order_by(RecordingSegment.recording_id, RecordingSegment.seq)
        )
        return list(result.scalars().all())


async def audited(db: Database, action: str) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        result = await session.execute(
            select(AuditEntry.resource_id, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        )
        return [
            {"recording": rid, "outcome": outcome, **json.loads(details)}
            for rid, outcome, details in result.all()
        ]


async def test_no_event_no_recording_and_the_pre_roll_is_bounded(
    db: Database, tmp_path: Path, manual_clock: ManualClock
) -> None:
    vault = make_vault(db, tmp_path)
    gate = gate_on(vault, manual_clock)
    for i in range(20):
        await gate.segment(segment(i))
    # Only segments ending within 5 s of the newest one's start (38 s) are kept: 32-34 to
    # 38-40; 30-32 ends 6 s before it, so is gone. What a trigger now could still need.
    assert gate.stats.buffered_bytes == 4 * 1500 and gate.recording is None
    await manual_clock.advance(3600)
    await gate.close()
    assert gate.stats.buffered_bytes == 0 and gate.recordings == []
    assert await rows(db) == [] and await vault.store.list() == []
    assert await audited(db, STARTED) == []


async def test_a_burst_of_triggers_is_one_clip_from_pre_roll_to_post_roll(
    db: Database, tmp_path: Path, manual_clock: ManualClock
) -> None:
    vault = make_vault(db, tmp_path)
    gate = gate_on(vault, manual_clock)
    for i in range(5):  # 0 s to 10 s
        await gate.segment(segment(i))
    # Events at 10.5 s (while segment 5, 10-12 s, is still being cut), then a burst.
    assert gate.trigger("motion", DEVICE, at(10.5))
    assert gate.trigger("detection:face", DEVICE, at(11.0))
    assert gate.trigger("motion", DEVICE, at(13.0))  # moves the end to 17 s
    assert gate.trigger("incident:robot.tamper", DEVICE, at(12.0))  # earlier: no change
    for i in range(5, 12):
        await gate.segment(segment(i))
    await gate.until_idle()
    (clip,) = gate.recordings
    kept = await rows(db)
    # Pre-roll: segments ending after 10.5 - 5 = 5.5 s (4-6 s on); post-roll: up to the
    # first segment ending after 13 + 4 = 17 s (16-18 s). Then the gate waits.
    assert [(r.started_at, r.ended_at) for r in kept] == [
        (at(s), at(s + 2)) for s in range(4, 18, 2)
    ]
    assert {(r.recording_id, r.kind, r.device_id) for r in kept} == {(clip, "event", DEVICE)}
    async with db.sessions() as session:
        report = await verify_recording(session, vault.store, clip)
        sealed = await index.latest_anchor(session, clip)
    assert report.ok and report.anchored and sealed is not None and sealed.sealed
    assert sealed.segments == len(kept) == 7
    (started,) = await audited(db, STARTED)
    assert started == {
        "recording": clip,
        "outcome": "success",
        "device_id": DEVICE,
        "reason": "motion",
        "at": at(10.5).isoformat(),
        "pre_roll": 5.0,
        "post_roll": 4.0,
    }
    (ended,) = await audited(db, ENDED)
    assert ended["reasons"] == ["motion", "detection:face", "incident:robot.tamper"]
    assert (ended["segments"], ended["triggers"], ended["outcome"]) == (7, 4, "success")
    assert ended["until"] == at(17.0).isoformat()
    # After the clip the gate keeps a pre-roll again and nothing more is stored.
    for i in range(12, 20):
        await gate.segment(segment(i))
    assert len(await rows(db)) == 7 and gate.recording is None
    # A later event is a second clip, with its own pre-roll.
    assert gate.trigger("motion", DEVICE, at(40.0))
    for i in range(20, 23):
        await gate.segment(segment(i))
    await gate.until_idle()
    second = [r for r in await rows(db) if r.recording_id == gate.recordings[1]]
    assert [r.started_at for r in second] == [at(s) for s in range(34, 46, 2)]


async def test_an_event_reported_after_its_segment_was_cut_still_gets_its_pre_roll(
    db: Database, tmp_path: Path, manual_clock: ManualClock
) -> None:
    vault = make_vault(db, tmp_path)
    gate = gate_on(vault, manual_clock, pre_roll=2.0, post_roll=0.0)
    for i in range(6):  # 0 s to 12 s
        await gate.segment(segment(i))
    gate.trigger("incident:robot.tamper", DEVICE, at(10.5))  # in 10-12 s, already cut
    await gate.until_idle()
    # 8.5 s is in 8-10 s, older than the pre-roll of the newest segment's end.
    assert [r.started_at for r in await rows(db)] == [at(8), at(10)]


async def test_the_byte_cap_drops_the_oldest_pre_roll(
    db: Database, tmp_path: Path, manual_clock: ManualClock
) -> None:
    vault = make_vault(db, tmp_path, pre_roll_max_bytes=2500)
    gate = gate_on(vault, manual_clock, pre_roll=30.0, post_roll=0.0)
    for i in range(6):
        await gate.segment(segment(i, size=1000))
    assert gate.stats.buffered_bytes == 2000 and gate.stats.evicted == 4
    gate.trigger("motion", DEVICE, at(12.0))
    await gate.segment(segment(6, size=1000))  # 12-14 s ends the clip (no post-roll)
    await gate.until_idle()
    assert [r.started_at for r in await rows(db)] == [at(8), at(10), at(12)]


async def test_a_stream_that_stops_seals_the_clip_on_the_clock(
    db: Database, tmp_path: Path, manual_clock: ManualClock
) -> None:
    vault = make_vault(db, tmp_path)
    gate = gate_on(vault, manual_clock)
    await gate.segment(segment(0))
    gate.trigger("motion", DEVICE, at(2.5))
    await gate.segment(segment(1))  # then the publisher goes away
    await manual_clock.advance(4.0 + STALL_GRACE - 0.5)
    assert gate.recording is not None
    gate.trigger("motion", DEVICE, at(3.0))  # a late trigger re-arms the timer
    await manual_clock.advance(1.0)
    assert gate.recording is not None
    await manual_clock.advance(4.0 + STALL_GRACE)
    await gate.until_idle()
    assert len(await rows(db)) == 2
    (ended,) = await audited(db, ENDED)
    assert (ended["segments"], ended["triggers"]) == (2, 2)


async def test_closing_seals_an_open_clip_and_ignores_later_triggers(
    db: Database, tmp_path: Path, manual_clock: ManualClock
) -> None:
    vault = make_vault(db, tmp_path)
    gate = gate_on(vault, manual_clock, pre_roll=0.0, post_roll=60.0)
    hooks: list[str] = []

    async def opened(recording_id: str) -> None:
        hooks.append(f"open {recording_id}")

    async def sealed_hook(recording_id: str) -> None:
        hooks.append(f"sealed {recording_id}")

    gate.on_open.append(opened)
    gate.on_sealed.append(sealed_hook)
    gate.on_close.append(lambda: hooks.append("closed"))
    await gate.segment(segment(0))
    assert not gate.trigger("motion", "another-device", at(2.0))
    assert gate.recordings == []
    gate.trigger("motion", DEVICE, at(2.0))
    await gate.segment(segment(1))
    await gate.close()
    await gate.close()
    (clip,) = gate.recordings
    assert hooks == [f"open {clip}", "closed", f"sealed {clip}"]
    async with db.sessions() as session:
        sealed = await index.latest_anchor(session, clip)
    assert sealed is not None and sealed.sealed and sealed.segments == 1  # 0-2 s not kept
    assert not gate.trigger("motion", DEVICE, at(3.0))
    await gate.segment(segment(2))
    assert len(await rows(db)) == 1


async def test_bad_settings_and_naive_times_are_refused(
    db: Database, tmp_path: Path, manual_clock: ManualClock
) -> None:
    vault = make_vault(db, tmp_path)
    with pytest.raises(ValueError, match="pre_roll"):
        gate_on(vault, manual_clock, pre_roll=-1.0)
    with pytest.raises(ValueError, match="post_roll"):
        gate_on(vault, manual_clock, post_roll=1e6)
    with pytest.raises(ValueError, match="timezone"):
        gate_on(vault, manual_clock).trigger("motion", DEVICE, datetime(2026, 12, 4, 12))
