"""The audit log as one kind of the data-retention job: counts, holds and what stays."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lensguard.access.policy import load_policy
from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from lensguard.incidents.book import SYSTEM, IncidentBook
from lensguard.incidents.playbook import load_all
from lensguard.incidents.states import State
from lensguard.privacy.audit_retention import cutoff, keep_from
from lensguard.privacy.evidence import EVIDENCED, Period, Sources, audit_chain, retention
from lensguard.privacy.retention import RUN_ACTION, DataRetention
from lensguard.recordings.hold_models import LegalHold
from lensguard.recordings.index import ANCHOR_ACTION
from lensguard.recordings.lease import FileLease
from lensguard.recordings.models import RecordingSegment
from lensguard.settings import DataRetentionSettings
from lensguard.severity import Severity
from lensguard.store.db import Database
from tests.audit.support import login, make_log

DAY = timedelta(days=1)
OLD, NEW = 30, 10


@pytest.fixture
def log(manual_clock: ManualClock) -> AuditLog:
    return make_log(checkpoint_every=10, clock=manual_clock.now)


def job(
    db: Database, log: AuditLog, clock: ManualClock, tmp_path: Path, **settings: object
) -> DataRetention:
    return DataRetention(
        db,
        log,
        load_policy(None),
        DataRetentionSettings.model_validate(settings),
        clock=clock,
        lease=FileLease(tmp_path / "retention.lock"),
    )


async def old_then_new(db: Database, log: AuditLog, clock: ManualClock) -> None:
    async with db.transaction() as session:
        for i in range(OLD):
            await log.append(session, login(f"user{i % 3}"))
    await clock.advance(200 * DAY.total_seconds())
    async with db.transaction() as session:
        for i in range(NEW):
            await log.append(session, login(f"late{i}"))


async def first_seq(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq)) or 0)


async def run_details(db: Database) -> list[dict[str, object]]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry.details)
            .where(AuditEntry.action == RUN_ACTION)
            .order_by(AuditEntry.seq)
        )
        return [json.loads(text) for text in rows]


async def test_the_job_prunes_the_audit_log_and_audits_the_counts(
    db: Database, log: AuditLog, manual_clock: ManualClock, tmp_path: Path
) -> None:
    await old_then_new(db, log, manual_clock)
    dry = await job(db, log, manual_clock, tmp_path).run(dry_run=True)
    assert (dry.removed["audit_log"], dry.audit_anchor, dry.audit_refused) == (OLD, OLD, None)
    assert await first_seq(db) == 1

    done = await job(db, log, manual_clock, tmp_path).run()
    assert (done.removed["audit_log"], done.audit_anchor) == (OLD, OLD)
    assert done.as_dict()["audit_anchor"] == OLD
    assert await first_seq(db) == OLD + 1
    dry_details, run = await run_details(db)
    assert dry_details["dry_run"] is True and dry_details["removed"]["audit_log"] == OLD  # type: ignore[index]
    assert run["removed"]["audit_log"] == OLD and run["audit_anchor"] == OLD  # type: ignore[index]
    report = await log.verify(db)
    # The run's own entry (and the dry run's) are kept and verify from the anchor.
    assert (report.ok, report.checked, report.anchor_seq) == (True, NEW + 2, OLD)


async def test_audit_days_none_keeps_the_log_whole(
    db: Database, log: AuditLog, manual_clock: ManualClock, tmp_path: Path
) -> None:
    await old_then_new(db, log, manual_clock)
    done = await job(db, log, manual_clock, tmp_path, audit_days=None).run()
    assert "audit_log" not in done.removed and done.audit_anchor is None
    assert await first_seq(db) == 1
    assert DataRetentionSettings().audit_days == 180


async def test_an_open_incident_freezes_the_log_until_it_is_closed(
    db: Database, log: AuditLog, manual_clock: ManualClock, tmp_path: Path
) -> None:
    await old_then_new(db, log, manual_clock)
    now = manual_clock.now()
    book = IncidentBook(db, log, load_all())
    incident = await book.open(
        kind="unclassified", title="t", severity=Severity.LOW, at=now - 190 * DAY, actor=SYSTEM
    )
    assert await cutoff(db, now=now, days=180) == now - 370 * DAY
    frozen = await job(db, log, manual_clock, tmp_path).run()
    assert (frozen.removed["audit_log"], frozen.audit_anchor) == (0, None)
    assert await first_seq(db) == 1

    await book.change_state(incident.id, State.CLOSED, at=now, actor=SYSTEM)
    done = await job(db, log, manual_clock, tmp_path).run()
    assert (done.removed["audit_log"], done.audit_anchor) == (OLD, OLD)


async def test_a_live_legal_hold_freezes_the_log_from_when_it_was_placed(
    db: Database, manual_clock: ManualClock
) -> None:
    now = manual_clock.now()
    async with db.transaction() as session:
        for name, placed, released in (("h-live", 20, None), ("h-gone", 300, now - DAY)):
            session.add(
                LegalHold(
                    id=name,
                    device_id="dev-1",
                    site="hq",
                    reason="litigation 2026-7",
                    created_by="ada",
                    created_at=now - placed * DAY,
                    released_at=released,
                )
            )
    assert await cutoff(db, now=now, days=180) == now - 200 * DAY


async def test_entries_a_stored_recording_relies_on_stay(
    db: Database, log: AuditLog, manual_clock: ManualClock, tmp_path: Path
) -> None:
    async with db.transaction() as session:
        for i in range(5):
            await log.append(session, login(f"user{i}"))
        anchored = await log.append(
            session,
            AuditEvent(
                action=ANCHOR_ACTION,
                outcome="success",
                actor_type="system",
                resource_type="recording",
                resource_id="rec-1",
                details={"segments": 1, "head": "0" * 64, "sealed": True},
            ),
        )
    await old_then_new(db, log, manual_clock)
    assert await keep_from(db) is None  # no segment of rec-1 is stored
    now = manual_clock.now()
    async with db.transaction() as session:
        session.add(
            RecordingSegment(
                id="seg-1",
                recording_id="rec-1",
                seq=0,
                device_id="dev-1",
                stream="processed",
                started_at=now - 200 * DAY,
                ended_at=now - 200 * DAY,
                size=10,
                key_id="k",
                kek_version=1,
                digest="0" * 64,
                prev_digest="0" * 64,
            )
        )
    assert await keep_from(db) == anchored
    done = await job(db, log, manual_clock, tmp_path).run()
    assert (done.removed["audit_log"], done.audit_anchor) == (anchored - 1, anchored - 1)
    assert await first_seq(db) == anchored


async def test_the_compliance_evidence_names_the_anchor_and_the_audit_retention(
    db: Database, log: AuditLog, manual_clock: ManualClock, tmp_path: Path, make_settings: Any
) -> None:
    await old_then_new(db, log, manual_clock)
    await job(db, log, manual_clock, tmp_path).run()
    sources = Sources(db, log, make_settings())
    period = Period(manual_clock.now() - 10 * DAY, manual_clock.now())
    chain = await audit_chain(sources, period)
    assert (chain.status, chain.facts["pruned_up_to"]) == (EVIDENCED, OLD)
    assert chain.summary.endswith(f"; verified from the signed retention anchor at entry {OLD}")
    kept = await retention(sources, period)
    assert kept.facts["audit_log"] == "pruned after 180 days behind a signed anchor"
    assert kept.summary.endswith("the audit log is pruned after 180 days behind a signed anchor")
