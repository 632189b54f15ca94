"""Playbook steps in their order, ownership, and who acknowledges an incident."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from lensguard.errors import Conflict, NotFound
from lensguard.incidents.book import SHELL, SYSTEM, UNCLASSIFIED, Actor, IncidentBook
from lensguard.incidents.playbook import load_all
from lensguard.incidents.steps import statuses
from lensguard.severity import Severity
from lensguard.store.db import Database
from tests.audit.support import make_log
from tests.incidents.test_book import audited, detection

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OFFICER = Actor("u-officer", "olga", "198.51.100.4")


@pytest.fixture
async def book(db_url: str) -> AsyncIterator[IncidentBook]:
    db = Database(db_url)
    try:
        yield IncidentBook(db, make_log(), load_all())
    finally:
        await db.dispose()


async def compromise(book: IncidentBook) -> str:
    incident = await book.open(
        kind="device_compromise",
        title="cam-7 seen from two addresses",
        severity=Severity.CRITICAL,
        at=T0,
        actor=SYSTEM,
        principal="dev-7",
    )
    return incident.id


async def where(book: IncidentBook, incident_id: str) -> dict[str, str]:
    incident = await book.get(incident_id)
    shown = statuses(book.playbooks[incident.kind], await book.timeline(incident_id))
    return {s.step.id: s.status for s in shown}


async def test_steps_are_done_in_their_order_and_only_once(book: IncidentBook) -> None:
    incident_id = await compromise(book)
    first = await where(book, incident_id)
    assert first["confirm"] == "pending" and first["commands"] == "blocked"
    assert first["reimage"] == "blocked" and first["revoke"] == "pending"

    with pytest.raises(Conflict, match="comes after confirm"):
        await book.record_step(incident_id, "commands", status="done", at=T0, actor=OFFICER)
    with pytest.raises(NotFound, match=r"its steps: .*confirm"):
        await book.record_step(incident_id, "nonsense", status="done", at=T0, actor=OFFICER)

    await book.record_step(
        incident_id, "confirm", status="done", at=T0, actor=OFFICER, note="both are cam-7"
    )
    with pytest.raises(Conflict, match="already done"):
        await book.record_step(incident_id, "confirm", status="done", at=T0, actor=OFFICER)
    after = await where(book, incident_id)
    assert after["confirm"] == "done" and after["commands"] == "pending"
    assert after["reimage"] == "blocked"  # still waits on commands

    entry = (await book.timeline(incident_id))[-1]
    body = json.loads(entry.body)
    assert entry.kind == "step" and entry.actor == OFFICER.id
    assert body == {"step": "confirm", "action": None, "status": "done", "note": "both are cam-7"}
    assert (await audited(book.db, incident_id))[-1] == "incident.step"


async def test_a_skipped_or_failed_step_stays_pending_with_why(book: IncidentBook) -> None:
    incident_id = await compromise(book)
    await book.record_step(
        incident_id, "revoke", status="skipped", at=T0, actor=OFFICER, why="no device named"
    )
    incident = await book.get(incident_id)
    shown = {
        s.step.id: s
        for s in statuses(book.playbooks[incident.kind], await book.timeline(incident_id))
    }
    assert shown["revoke"].status == "pending"
    last = shown["revoke"].last
    assert last is not None and last["status"] == "skipped" and last["why"] == "no device named"
    assert last["action"] == "revoke_device_credentials" and last["actor"] == OFFICER.id
    await book.record_step(
        incident_id, "revoke", status="done", at=T0, actor=OFFICER, result={"revoked": {"x": 1}}
    )
    assert (await where(book, incident_id))["revoke"] == "done"


async def test_an_incident_without_a_playbook_has_no_steps(book: IncidentBook) -> None:
    incident = await book.open(
        kind=UNCLASSIFIED, title="odd", severity=Severity.LOW, at=T0, actor=OFFICER
    )
    with pytest.raises(Conflict, match="no playbook"):
        await book.record_step(incident.id, "confirm", status="done", at=T0, actor=OFFICER)
    with pytest.raises(NotFound):
        await book.record_step("missing", "confirm", status="done", at=T0, actor=OFFICER)


async def test_a_persons_first_action_acknowledges_detections_do_not(book: IncidentBook) -> None:
    incident = await book.record(detection("privilege_escalation", timedelta(0), principal="u-eve"))
    await book.record(detection("privilege_escalation", timedelta(minutes=1), principal="u-eve"))
    assert (await book.get(incident.id)).acknowledged_at is None

    later = T0 + timedelta(minutes=9)
    owned = await book.take_ownership(incident.id, OFFICER.id, at=later, actor=OFFICER)
    assert owned.owner_id == OFFICER.id and owned.acknowledged_at == later
    await book.take_ownership(incident.id, None, at=later + timedelta(minutes=1), actor=OFFICER)
    again = await book.get(incident.id)
    assert again.owner_id is None and again.acknowledged_at == later  # the first one counts
    owners = [json.loads(e.body) for e in await book.timeline(incident.id) if e.kind == "owner"]
    assert owners == [{"from": None, "to": OFFICER.id}, {"from": OFFICER.id, "to": None}]
    assert (await audited(book.db, incident.id)).count("incident.owner") == 2


async def test_opening_or_commenting_by_hand_acknowledges(book: IncidentBook) -> None:
    by_hand = await book.open(
        kind="data_breach", title="export leaked", severity=Severity.CRITICAL, at=T0, actor=SHELL
    )
    assert by_hand.acknowledged_at == T0
    detected = await book.record(detection("brute_force", timedelta(0), address="203.0.113.9"))
    assert detected.acknowledged_at is None
    await book.comment(detected.id, "looking", at=T0 + timedelta(minutes=2), actor=OFFICER)
    assert (await book.get(detected.id)).acknowledged_at == T0 + timedelta(minutes=2)
