"""Unacknowledged critical incidents alert the next level, once per level, on the clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from lensguard.clock import ManualClock
from lensguard.incidents.book import SYSTEM, Actor, IncidentBook
from lensguard.incidents.escalation import Escalator
from lensguard.incidents.playbook import load_all
from lensguard.incidents.settings import EscalationLevel, IncidentSettings
from lensguard.incidents.states import State
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.events import bound
from lensguard.monitor.publisher import EventPublisher
from lensguard.severity import Severity
from lensguard.store.db import Database
from tests.audit.support import make_log
from tests.incidents.test_book import audited

OFFICER = Actor("u-officer", "olga", "198.51.100.4")
LEVELS = [
    EscalationLevel(after_minutes=15, name="on-call"),
    EscalationLevel(after_minutes=60, name="security-lead"),
]


@pytest.fixture
async def book(db_url: str) -> AsyncIterator[IncidentBook]:
    db = Database(db_url)
    try:
        yield IncidentBook(db, make_log(), load_all())
    finally:
        await db.dispose()


def listening() -> tuple[EventPublisher, list[SecurityEvent]]:
    publisher = EventPublisher()
    seen: list[SecurityEvent] = []
    publisher.subscribe(seen.append, name="test")
    return publisher, seen


async def opened(book: IncidentBook, clock: ManualClock, severity: Severity) -> str:
    incident = await book.open(
        kind="data_breach", title="footage left", severity=severity, at=clock.now(), actor=SYSTEM
    )
    return incident.id


async def test_levels_are_alerted_in_turn_until_someone_acknowledges(
    book: IncidentBook, manual_clock: ManualClock
) -> None:
    escalator = Escalator(book, LEVELS, clock=manual_clock, every_seconds=30)
    critical = await opened(book, manual_clock, Severity.CRITICAL)
    high = await opened(book, manual_clock, Severity.HIGH)
    publisher, alerts = listening()
    with bound(publisher):
        await manual_clock.advance(14 * 60 + 59)
        assert await escalator.run_once() == []
        await manual_clock.advance(1)
        assert await escalator.run_once() == [(critical, 1)]
        assert await escalator.run_once() == []  # each level once
        await manual_clock.advance(45 * 60)
        assert await escalator.run_once() == [(critical, 2)]
        await manual_clock.advance(24 * 3600)
        assert await escalator.run_once() == []  # no third level

    incident = await book.get(critical)
    assert incident.escalation_level == 2 and incident.escalated_at is not None
    assert (await book.get(high)).escalation_level == 0
    entries = [json.loads(e.body) for e in await book.timeline(critical) if e.kind == "escalated"]
    assert entries == [
        {"level": 1, "level_name": "on-call"},
        {"level": 2, "level_name": "security-lead"},
    ]
    assert (await audited(book.db, critical)).count("incident.escalated") == 2
    raised = [e for e in alerts if e.type == "incident.escalated"]
    assert [(e.fields["level"], e.fields["level_name"]) for e in raised] == [
        (1, "on-call"),
        (2, "security-lead"),
    ]
    assert all(e.severity is Severity.CRITICAL for e in raised)
    assert raised[1].fields["unacknowledged_minutes"] == 60


async def test_acknowledged_or_ended_incidents_are_not_escalated(
    book: IncidentBook, manual_clock: ManualClock
) -> None:
    escalator = Escalator(book, LEVELS, clock=manual_clock, every_seconds=30)
    seen = await opened(book, manual_clock, Severity.CRITICAL)
    ended = await opened(book, manual_clock, Severity.CRITICAL)
    ignored = await opened(book, manual_clock, Severity.CRITICAL)
    await manual_clock.advance(10 * 60)
    await book.comment(seen, "on it", at=manual_clock.now(), actor=OFFICER)
    await book.change_state(ended, State.FALSE_POSITIVE, at=manual_clock.now(), actor=SYSTEM)
    await manual_clock.advance(10 * 60)
    assert await escalator.run_once() == [(ignored, 1)]
    await book.take_ownership(ignored, OFFICER.id, at=manual_clock.now(), actor=OFFICER)
    await manual_clock.advance(60 * 60)
    assert await escalator.run_once() == []


async def test_nodes_side_by_side_alert_each_level_once(
    book: IncidentBook, db_url: str, manual_clock: ManualClock
) -> None:
    other_db = Database(db_url)
    try:
        other = IncidentBook(other_db, make_log(), load_all())
        ids = [await opened(book, manual_clock, Severity.CRITICAL) for _ in range(5)]
        await manual_clock.advance(16 * 60)
        first = Escalator(book, LEVELS, clock=manual_clock, every_seconds=30)
        second = Escalator(other, LEVELS, clock=manual_clock, every_seconds=30)
        a, b = await asyncio.gather(first.run_once(), second.run_once())
        assert sorted(a + b) == sorted((i, 1) for i in ids)
        for incident_id in ids:
            kinds = [e.kind for e in await book.timeline(incident_id)]
            assert kinds.count("escalated") == 1
    finally:
        await other_db.dispose()


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait (bounded) for the loop's database work, which the clock does not drive."""

    async def poll() -> None:
        while not await check():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout=10)


async def test_the_loop_runs_on_the_injected_clock(
    book: IncidentBook, manual_clock: ManualClock
) -> None:
    escalator = Escalator(book, LEVELS[:1], clock=manual_clock, every_seconds=15 * 60)
    incident_id = await opened(book, manual_clock, Severity.CRITICAL)

    async def asleep() -> bool:
        return manual_clock.pending == 1

    async def escalated() -> bool:
        return (await book.get(incident_id)).escalation_level == 1

    escalator.start()
    try:
        await eventually(asleep)  # the first round found nothing due and sleeps
        assert not await escalated()
        await manual_clock.advance(15 * 60)
        await eventually(escalated)
        await eventually(asleep)
    finally:
        await escalator.stop()
    assert manual_clock.pending == 0


def test_levels_must_come_in_increasing_minutes() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        IncidentSettings(escalation=[LEVELS[1], LEVELS[0]])
    with pytest.raises(ValueError, match="strictly increasing"):
        IncidentSettings(escalation=[LEVELS[0], LEVELS[0]])
    with pytest.raises(ValueError):
        IncidentSettings(escalation=[{"after_minutes": 5, "name": "on call\n"}])
    assert IncidentSettings(escalation=[]).escalation == []
