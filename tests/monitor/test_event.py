import asyncio
import contextvars
import io
import logging
import threading
from datetime import UTC, datetime

import pytest

from lensguard.logs import MASK
from lensguard.monitor.alerts.event import SECURITY_LOGGER, SecurityEvent, from_log_record
from lensguard.monitor.alerts.inbox import EventInbox
from lensguard.monitor.event_log import log_event
from lensguard.monitor.events import bound, emit
from lensguard.monitor.publisher import EventPublisher
from lensguard.settings import Severity

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"


def test_from_event_dict() -> None:
    event = from_log_record(
        {
            "event": "auth.login_failed",
            "security_event": True,
            "severity": "high",
            "timestamp": "2025-01-02T03:04:05.000006Z",
            "level": "warning",
            "logger": SECURITY_LOGGER,
            "username": "ada",
            "password": "hunter2hunter2",
            "note": f"Authorization: Bearer {JWT}",
            "client": ("198.51.100.7", 5000),
        }
    )
    assert event is not None
    assert (event.name, event.severity) == ("auth.login_failed", Severity.HIGH)
    assert event.time == datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    # Masked like the log line, made JSON-safe, and stripped of logging's own keys.
    note = event.fields.pop("note")
    assert JWT not in note and MASK in note
    assert event.fields == {"username": "ada", "password": MASK, "client": ["198.51.100.7", 5000]}


@pytest.mark.parametrize(
    "data",
    [
        {"event": "request", "path": "/"},
        {"event": "x", "security_event": "yes"},
        {"event": "x", "security_event": False, "severity": "high"},
    ],
)
def test_records_that_are_not_security_events_give_none(data: dict[str, object]) -> None:
    assert from_log_record(data) is None


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="'severe' is not a valid Severity"):
        from_log_record({"event": "x", "security_event": True, "severity": "severe"})


def test_plain_standard_library_record_with_extra() -> None:
    record = logging.LogRecord(
        SECURITY_LOGGER, logging.WARNING, __file__, 1, "disk %s", ("full",), None
    )
    record.security_event = True
    record.severity = "critical"
    record.volume = "/var"
    event = from_log_record(record)
    assert event is not None
    assert (event.name, event.severity, event.fields) == (
        "disk full",
        Severity.CRITICAL,
        {"volume": "/var"},
    )
    assert event.time == datetime.fromtimestamp(record.created, UTC)


def test_event_round_trips_through_its_json_shape(event: SecurityEvent) -> None:
    assert SecurityEvent.from_dict(event.to_dict()) == event
    assert event.to_dict()["time"].endswith("Z")
    assert len({SecurityEvent.create("x").id for _ in range(100)}) == 100


async def test_emitted_events_reach_the_inbox_as_masked_alert_records(
    json_logging: io.StringIO,
) -> None:
    inbox = EventInbox(10)
    publisher = EventPublisher()
    publisher.subscribe(log_event, name="log")
    publisher.subscribe(lambda e: inbox.offer(SecurityEvent.from_published(e)), name="alerts")
    with bound(publisher):
        emit("auth.login_failed", severity=Severity.MEDIUM, username="ada", password="pw123456")
        logging.getLogger("lensguard.other").warning("not a security event")
        # Published on another thread, as code under asyncio.to_thread would.
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=lambda: context.run(emit, "auth.mfa_disabled", severity=Severity.HIGH)
        )
        thread.start()
        thread.join()
    first = await asyncio.wait_for(inbox.get(), 1)
    second = await asyncio.wait_for(inbox.get(), 1)
    assert (first.name, first.severity) == ("auth.login_failed", Severity.MEDIUM)
    assert first.fields == {"username": "ada", "password": MASK}
    assert (second.name, second.severity) == ("auth.mfa_disabled", Severity.HIGH)
    assert inbox.qsize() == 0
    assert '"event": "auth.login_failed"' in json_logging.getvalue()


async def test_full_inbox_drops_and_counts() -> None:
    inbox = EventInbox(2)
    for i in range(5):
        inbox.offer(SecurityEvent.create(f"e{i}"))
    assert (inbox.qsize(), inbox.dropped) == (2, 3)
