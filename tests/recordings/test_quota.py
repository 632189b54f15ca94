"""The local disk quota with a tiny quota: one alert per crossing, oldest non-held evicted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings.hold_models import LegalHold
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.quota import EVICT_ACTION, HIGH_EVENT, Quota, used_bytes
from lensguard.recordings.settings import RetentionSettings
from lensguard.recordings.store import LocalStore
from lensguard.severity import Severity
from lensguard.store.db import Database
from tests.audit.support import make_log
from tests.recordings.retention_support import START, daily, record, rows_of, verified
from tests.recordings.test_retention import audit_details

DEVICE = "cam-quota-1"


def quota(
    db: Database, store: LocalStore, segments: float, size: int
) -> tuple[Quota, list[SecurityEvent]]:
    """A quota of ``segments`` segments of ``size`` bytes, and the events it raises."""
    settings = RetentionSettings(quota_gb=segments * size / 1024**3)
    publisher = EventPublisher()
    seen: list[SecurityEvent] = []
    publisher.subscribe(seen.append)
    return Quota(db, store, make_log(), settings, events=publisher), seen


async def test_over_the_quota_the_oldest_go_and_the_alert_is_raised_once(
    db: Database, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "var" / "recordings")
    ring, audit = (
        KeyRing.from_secret("quota-tests-master-secret-0123456789-abcdefghijkl"),
        make_log(),
    )
    rid, rows = await record(db, store, ring, audit, device_id=DEVICE, starts=daily(6))
    watcher, seen = quota(db, store, 4.5, rows[0].size)

    first = await watcher.check()
    assert first.alerted
    assert first.evicted_segments == 2  # 6 segments to at most 4.5
    assert first.used_after <= watcher.quota
    assert first.used_after == used_bytes(store)
    assert [r.seq for r in await rows_of(db, rid)] == [2, 3, 4, 5]
    checked = await verified(db, store, rid)
    assert checked.ok, checked.problems
    ((event),) = seen
    assert (event.type, event.severity) == (HIGH_EVENT, Severity.HIGH)
    assert event.fields["quota_bytes"] == watcher.quota
    (evicted,) = await audit_details(db, EVICT_ACTION)
    assert evicted["segments"] == 2

    # Still above 85 %: no second alert, nothing more to evict.
    second = await watcher.check()
    assert not second.alerted and second.evicted_segments == 0
    assert len(seen) == 1

    # Below the mark, then over it again: a new crossing, a new alert.
    for row in rows[2:4]:
        await store.delete(row.id)
    assert not (await watcher.check()).alerted
    await record(
        db, store, ring, audit, device_id=DEVICE, starts=daily(2, START + timedelta(days=30))
    )
    assert (await watcher.check()).alerted
    assert len(seen) == 2


async def test_held_segments_are_never_evicted(db: Database, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "var" / "recordings")
    ring, audit = (
        KeyRing.from_secret("quota-tests-master-secret-0123456789-abcdefghijkl"),
        make_log(),
    )
    rid, rows = await record(db, store, ring, audit, device_id=DEVICE, starts=daily(5))
    async with db.transaction() as session:
        session.add(
            LegalHold(
                id="q" * 32,
                device_id=DEVICE,
                site="lab",
                range_start=None,
                range_end=rows[1].ended_at,
                reason="preserve the first two segments",
                created_by="u" * 32,
                created_at=START,
            )
        )
    watcher, _ = quota(db, store, 3.5, rows[0].size)
    report = await watcher.check()
    assert report.evicted_segments == 2
    assert [r.seq for r in await rows_of(db, rid)] == [0, 1, 4]
    checked = await verified(db, store, rid)
    assert checked.ok, checked.problems
