"""Incidents from detections (grouped), by hand, along the flow; the timeline is audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.errors import NotFound
from lensguard.incidents.book import UNCLASSIFIED, Actor, IncidentBook
from lensguard.incidents.playbook import load_all
from lensguard.incidents.states import BadMove, State
from lensguard.severity import Severity
from lensguard.store.db import Database
from lensguard.threats.detection import Detection
from tests.audit.support import make_log

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OFFICER = Actor("u-officer", "olga", "198.51.100.4")


@pytest.fixture
async def book(db_url: str) -> AsyncIterator[IncidentBook]:
    db = Database(db_url)
    try:
        yield IncidentBook(db, make_log(), load_all())
    finally:
        await db.dispose()


def detection(
    kind: str, at: timedelta, *, address: str | None = None, principal: str | None = None
) -> Detection:
    severity = Severity.CRITICAL if kind == "privilege_escalation" else Severity.HIGH
    return Detection(
        kind=kind,
        severity=severity,
        score=0.9,
        response="block_ip",
        address=address,
        principal=principal,
        event_ids=(f"e-{kind}-{at.seconds}",),
        time=T0 + at,
    )


async def audited(db: Database, incident_id: str) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.resource_type == "incident", AuditEntry.resource_id == incident_id)
            .order_by(AuditEntry.seq)
        )
        return [row.action for row in rows]


async def test_detections_about_one_source_group_into_one_incident(book: IncidentBook) -> None:
    first = await book.record(detection("brute_force", timedelta(0), address="203.0.113.9"))
    second = await book.record(
        detection("credential_stuffing", timedelta(minutes=20), address="203.0.113.9")
    )
    other = await book.record(detection("brute_force", timedelta(minutes=21), address="192.0.2.1"))
    late = await book.record(detection("brute_force", timedelta(hours=3), address="203.0.113.9"))
    assert first.id == second.id != other.id
    assert late.id != first.id  # outside the grouping window: a new incident
    assert (first.kind, first.title, first.severity) == (
        "brute_force",
        "Brute force against sign-in",
        "high",
    )
    entries = await book.timeline(first.id)
    assert [e.kind for e in entries] == ["opened", "detection", "detection"]
    assert [json.loads(e.body)["detection"] for e in entries[1:]] == [
        "brute_force",
        "credential_stuffing",
    ]
    assert await audited(book.db, first.id) == [
        "incident.opened",
        "incident.detection",
        "incident.detection",
    ]


async def test_a_breach_gets_its_notification_deadline_and_the_worst_severity(
    book: IncidentBook,
) -> None:
    incident = await book.record(detection("exfiltration", timedelta(0), principal="u-eve"))
    assert incident.kind == "data_breach" and incident.severity == "critical"
    assert incident.notify_by == T0 + timedelta(hours=72)
    stray = await book.record(detection("token_reuse", timedelta(0), principal="u-bob"))
    assert stray.kind == "credential_leak" and stray.notify_by is None


async def test_an_unanswered_kind_is_unclassified(book: IncidentBook) -> None:
    plain = IncidentBook(book.db, book.audit, {})
    incident = await plain.record(detection("ddos", timedelta(0), address="203.0.113.5"))
    assert incident.kind == UNCLASSIFIED and incident.title == "Unclassified: ddos"


async def test_by_hand_along_the_flow_with_comments(book: IncidentBook) -> None:
    incident = await book.open(
        kind="ransomware", title="Encrypted NAS", severity=Severity.CRITICAL, at=T0, actor=OFFICER
    )
    assert incident.opened_by == OFFICER.id and incident.notify_by == T0 + timedelta(hours=72)
    await book.comment(incident.id, "NAS at site B shows .locked files", at=T0, actor=OFFICER)
    moved = await book.change_state(incident.id, State.CONTAINED, at=T0, actor=OFFICER)
    assert moved.state == "contained" and moved.acknowledged_at == T0
    with pytest.raises(BadMove, match="contained can become: closed, eradicated, recovered"):
        await book.change_state(incident.id, State.FALSE_POSITIVE, at=T0, actor=OFFICER)
    entries = await book.timeline(incident.id)
    assert [(e.kind, e.actor) for e in entries] == [
        ("opened", OFFICER.id),
        ("comment", OFFICER.id),
        ("state", OFFICER.id),
    ]
    assert await audited(book.db, incident.id) == [
        "incident.opened",
        "incident.comment",
        "incident.state",
    ]
    with pytest.raises(ValueError, match="no playbook for 'nonsense'"):
        await book.open(kind="nonsense", title="x", severity=Severity.LOW, at=T0, actor=OFFICER)
    with pytest.raises(NotFound):
        await book.comment("missing", "x", at=T0, actor=OFFICER)


async def test_a_closed_incident_takes_no_more_detections(book: IncidentBook) -> None:
    first = await book.record(detection("ddos", timedelta(0), address="203.0.113.6"))
    for state in (State.CONTAINED, State.ERADICATED, State.RECOVERED, State.CLOSED):
        await book.change_state(first.id, state, at=T0, actor=OFFICER)
    again = await book.record(detection("ddos", timedelta(minutes=5), address="203.0.113.6"))
    assert again.id != first.id
