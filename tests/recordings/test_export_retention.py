"""Retention of evidence bundles on SQLite and PostgreSQL, local and S3: real exports of real
recordings, aged on the manual clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.monitor.publisher import EventPublisher
from lensguard.protect.subkeys import Purpose, derive
from lensguard.recordings.crypto import decrypt
from lensguard.recordings.evidence_keys import EvidenceKeys
from lensguard.recordings.export import EXPORTED, STORE_PREFIX, ExportRequest, create_export
from lensguard.recordings.export_models import RecordingExport
from lensguard.recordings.export_retention import EXPIRED_ACTION
from lensguard.recordings.hold_models import LegalHold, SiteRetention
from lensguard.recordings.keys import KeyRing, KeyUnavailable
from lensguard.recordings.lease import FileLease
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.retention import RUN_ACTION
from lensguard.recordings.settings import RecordingSettings
from lensguard.recordings.store import SegmentNotFound, SegmentStore
from lensguard.recordings.vault import RecordingVault
from lensguard.store.db import Database
from tests.audit.support import make_log
from tests.recordings.retention_support import (
    MASTER,
    START,
    add_device,
    clock_at,
    daily,
    job,
    record,
)

EXPORT_DAYS = 2555


class Stop(Exception):
    """Stands for the process dying between two steps."""


def vault_of(db: Database, store: SegmentStore, ring: KeyRing, audit: AuditLog) -> RecordingVault:
    return RecordingVault(
        db=db,
        store=store,
        ring=ring,
        audit=audit,
        events=EventPublisher(),
        settings=RecordingSettings(),
    )


async def export_of(vault: RecordingVault, row: RecordingSegment, now: datetime) -> RecordingExport:
    """A real signed bundle of one recorded segment, built at ``now``."""
    request = ExportRequest(
        device_id=row.device_id,
        start=row.started_at,
        end=row.ended_at,
        reason="case 2026-13, evidence for the claim",
        exporter={"type": "user", "id": "u" * 32, "name": "ada"},
    )
    event = AuditEvent(
        action=EXPORTED,
        outcome="success",
        actor_type="user",
        actor_id="u" * 32,
        resource_type="device",
        resource_id=row.device_id,
    )
    keys = EvidenceKeys(vault.db, wrap_key=derive(MASTER, Purpose.WRAP))
    return await create_export(vault, keys, request, server_id="lensguard", now=now, audit=event)


async def exports_in(db: Database) -> dict[str, RecordingExport]:
    async with db.sessions() as session:
        result = await session.execute(select(RecordingExport))
        return {row.id: row for row in result.scalars().all()}


async def audit_details(db: Database, action: str) -> list[dict[str, object]]:
    async with db.sessions() as session:
        result = await session.execute(
            select(AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        )
        return [json.loads(raw) for raw in result.scalars().all()]


async def stored(store: SegmentStore, export_id: str) -> bool:
    try:
        await store.get(STORE_PREFIX + export_id)
    except SegmentNotFound:
        return False
    return True


async def test_old_bundles_go_young_and_held_ones_stay_and_a_dry_run_removes_nothing(
    db: Database, segment_store: SegmentStore, tmp_path: Path
) -> None:
    ring, audit = KeyRing.from_secret(MASTER), make_log()
    vault = vault_of(db, segment_store, ring, audit)
    await add_device(db, "cam-a", "lab")
    await add_device(db, "cam-b", "lab")
    _, a_rows = await record(db, segment_store, ring, audit, device_id="cam-a", starts=daily(2))
    _, b_rows = await record(db, segment_store, ring, audit, device_id="cam-b", starts=daily(1))
    old = await export_of(vault, a_rows[0], START + timedelta(days=2))
    young = await export_of(vault, a_rows[1], START + timedelta(days=30))
    kept = await export_of(vault, b_rows[0], START + timedelta(days=2))
    async with db.transaction() as session:
        session.add(
            LegalHold(
                id="h" * 32,
                device_id="cam-b",
                site="lab",
                range_start=b_rows[0].started_at - timedelta(hours=1),
                range_end=b_rows[0].ended_at,
                reason="case 2026-13, preserve the export",
                created_by="u" * 32,
                created_at=START,
            )
        )
    # Past the export days of the two built on day 2, not of the one built on day 30.
    clock = clock_at(START + timedelta(days=2 + EXPORT_DAYS, hours=1))
    lease = FileLease(tmp_path / "l")

    dry = await job(db, segment_store, audit, clock, lease=lease).run(dry_run=True)
    assert dry.bundles == 1 and dry.removed["export"].bytes == old.size
    assert dry.held.bundles == 1
    assert set(dry.devices) >= {"cam-a"} and dry.devices["cam-a"].bundles == 1
    assert set(await exports_in(db)) == {old.id, young.id, kept.id}
    assert await stored(segment_store, old.id)
    assert await audit_details(db, RUN_ACTION) == []

    report = await job(db, segment_store, audit, clock, lease=lease).run()
    assert report.bundles == 1 and report.held.bundles == 1
    assert set(await exports_in(db)) == {young.id, kept.id}
    assert not await stored(segment_store, old.id)
    assert await stored(segment_store, young.id) and await stored(segment_store, kept.id)
    (run,) = await audit_details(db, RUN_ACTION)
    assert run["removed"]["export"] == {"segments": 0, "bytes": old.size, "bundles": 1}  # type: ignore[index]
    assert run["bundles"] == 1 and run["held_bundles"] == 1
    (gone,) = await audit_details(db, EXPIRED_ACTION)
    assert gone["device_id"] == "cam-a" and gone["bundle_sha256"] == old.digest
    assert gone["bytes"] == old.size and gone["reason"] == "retention"

    # Released, the held bundle goes on the next run.
    async with db.transaction() as session:
        hold = await session.get(LegalHold, "h" * 32)
        assert hold is not None
        hold.released_at = clock.now()
    again = await job(db, segment_store, audit, clock, lease=lease).run()
    assert again.bundles == 1
    assert set(await exports_in(db)) == {young.id}


async def test_a_site_keeps_bundles_for_its_own_days(
    db: Database, segment_store: SegmentStore, tmp_path: Path
) -> None:
    ring, audit = KeyRing.from_secret(MASTER), make_log()
    vault = vault_of(db, segment_store, ring, audit)
    await add_device(db, "short1", "short-site")
    await add_device(db, "long1", "long-site")
    _, short_rows = await record(
        db, segment_store, ring, audit, device_id="short1", starts=daily(1)
    )
    _, long_rows = await record(db, segment_store, ring, audit, device_id="long1", starts=daily(1))
    short = await export_of(vault, short_rows[0], START + timedelta(days=1))
    long = await export_of(vault, long_rows[0], START + timedelta(days=1))
    async with db.transaction() as session:
        session.add(SiteRetention(site="short-site", export_days=30, updated_by="u" * 32))
    clock = clock_at(START + timedelta(days=31, hours=1))

    report = await job(db, segment_store, audit, clock, lease=FileLease(tmp_path / "l")).run()
    assert report.bundles == 1 and set(report.devices) == {"short1"}
    assert set(await exports_in(db)) == {long.id}
    assert not await stored(segment_store, short.id)


@pytest.mark.parametrize("step", ["keys", "files", "rows"])
async def test_a_run_stopped_after_any_step_is_finished_by_the_next(
    db: Database, segment_store: SegmentStore, tmp_path: Path, step: str
) -> None:
    ring, audit = KeyRing.from_secret(MASTER), make_log()
    vault = vault_of(db, segment_store, ring, audit)
    _, rows = await record(db, segment_store, ring, audit, device_id="cam-a", starts=daily(1))
    made = await export_of(vault, rows[0], START + timedelta(days=1))
    copy = await segment_store.get(STORE_PREFIX + made.id)
    lease = FileLease(tmp_path / "l")
    # The segment expires long before the bundle (90 days): it goes in a run of its own.
    await job(db, segment_store, audit, clock_at(START + timedelta(days=100)), lease=lease).run()
    assert await exports_in(db) != {}
    clock = clock_at(START + timedelta(days=1 + EXPORT_DAYS, hours=1))

    def crash(done: str) -> None:
        if done == step:
            raise Stop(done)

    with pytest.raises(Stop):
        await job(db, segment_store, audit, clock, lease=lease, crash=crash).run()
    left = await exports_in(db)
    if step in ("keys", "files"):
        # The key went first: the row is there, and nothing can open the stored bundle.
        assert left[made.id].wrapped_key is None
        with pytest.raises(KeyUnavailable):
            decrypt(ring.unwrap(None), copy)
    else:
        assert left == {}
    assert await stored(segment_store, made.id) == (step == "keys")

    await job(db, segment_store, audit, clock, lease=lease).run()
    assert await exports_in(db) == {}
    assert not await stored(segment_store, made.id)
    assert len(await audit_details(db, EXPIRED_ACTION)) == 1
