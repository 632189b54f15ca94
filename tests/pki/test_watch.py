"""The PKI schedule: one expiry alert per certificate, a list re-signed before it lapses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from lensguard.clock import ManualClock
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.events import bound
from lensguard.monitor.publisher import EventPublisher
from lensguard.pki import registry
from lensguard.pki.authority import init_authority, issue_device, issue_server
from lensguard.pki.settings import PkiSettings
from lensguard.pki.watch import PkiWatch
from lensguard.store.db import Database


async def test_expiry_alerts_once_and_a_list_past_half_life_is_re_signed(
    db: Database, tmp_path: Path, manual_clock: ManualClock
) -> None:
    clock = manual_clock
    ca = init_authority(tmp_path / "pki", name="test CA", now=clock.now())
    short = issue_device(ca, "dev-short", "short", now=clock.now(), days=40)
    long = issue_server(ca, ["cams.example"], now=clock.now(), days=400)
    async with db.transaction() as session:
        await registry.record(session, short, kind="device", device_id="dev-short")
        await registry.record(session, long, kind="server", names=["cams.example"])
    await registry.publish_crl(db, ca, now=clock.now(), days=7)
    announced: list[str] = []

    async def announce(device_id: str) -> None:
        announced.append(device_id)

    watch = PkiWatch(
        db,
        PkiSettings(expiry_warning_days=30, crl_validity_days=7),
        ca_dir=ca.directory,
        live=None,
        clock=clock,
        now=clock.now,
        announce=announce,
    )
    publisher, seen = EventPublisher(), list[SecurityEvent]()
    publisher.subscribe(seen.append, name="test")
    with bound(publisher):
        assert await watch.check() == []  # 40 days left: not yet
        await clock.advance(timedelta(days=11).total_seconds())
        assert await watch.check() == [short.serial]
        assert await watch.check() == []  # once
    expiring = [e for e in seen if e.type == "certificate.expiring"]
    assert [(e.fields["serial"], e.fields["days_left"]) for e in expiring] == [(short.serial, 29)]
    assert all(e.severity.value == "high" for e in expiring)
    latest = await registry.latest_crl(db)
    assert latest is not None and latest.number == 2  # 11 days on, the 7-day list was re-signed
    assert latest.next_update == clock.now() + timedelta(days=7)

    await watch.refresh()  # the first look remembers what is revoked already
    async with db.transaction() as session:
        await registry.revoke(session, short.serial, reason="superseded", at=clock.now())
    await watch.refresh()
    await watch.refresh()
    assert announced == ["dev-short"]  # each newly revoked device, once
