"""The event publisher: order, isolation of broken or slow subscribers, the log line."""

import asyncio
import io
import json

from lensguard.clock import ManualClock
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.event_log import log_event
from lensguard.monitor.events import bound, current_publisher, emit
from lensguard.monitor.publisher import EventPublisher, Queued
from lensguard.settings import Severity


def test_every_subscriber_sees_every_event_in_publish_order() -> None:
    publisher = EventPublisher()
    calls: list[tuple[str, str]] = []
    publisher.subscribe(lambda e: calls.append(("first", e.type)), name="first")
    publisher.subscribe(lambda e: calls.append(("second", e.type)), name="second")
    for name in ("a", "b", "c"):
        publisher.publish(SecurityEvent(name))
    assert calls == [
        ("first", "a"),
        ("second", "a"),
        ("first", "b"),
        ("second", "b"),
        ("first", "c"),
        ("second", "c"),
    ]
    assert publisher.subscribers == ["first", "second"]


def test_a_failing_subscriber_loses_only_its_own_events() -> None:
    publisher = EventPublisher()
    seen: list[str] = []

    def broken(event: SecurityEvent) -> None:
        raise RuntimeError("subscriber bug")

    publisher.subscribe(broken, name="broken")
    publisher.subscribe(lambda e: seen.append(e.type), name="counting")
    publisher.publish(SecurityEvent("device.removed", Severity.MEDIUM))
    publisher.publish(SecurityEvent("user.deleted", Severity.MEDIUM))
    assert seen == ["device.removed", "user.deleted"]
    assert publisher.failures == {"broken": 2}


def test_unsubscribed_handlers_hear_nothing_more() -> None:
    publisher = EventPublisher()
    seen: list[str] = []
    unsubscribe = publisher.subscribe(lambda e: seen.append(e.type), name="once")
    publisher.publish(SecurityEvent("a"))
    unsubscribe()
    publisher.publish(SecurityEvent("b"))
    assert seen == ["a"]
    assert publisher.subscribers == []


async def test_a_slow_queued_subscriber_never_blocks_the_publisher() -> None:
    release = asyncio.Event()
    handled: list[str] = []

    async def slow(event: SecurityEvent) -> None:
        await release.wait()
        handled.append(event.type)

    queued = Queued(slow, maxsize=2)
    queued.start()
    publisher = EventPublisher()
    publisher.subscribe(queued.offer, name="slow")
    publisher.publish(SecurityEvent("e0"))
    await asyncio.sleep(0)  # the handler takes e0 and waits on it
    for i in range(1, 6):
        publisher.publish(SecurityEvent(f"e{i}"))  # returns at once although nothing drains
    assert queued.dropped == 3  # e1 and e2 wait in the queue; e3..e5 did not fit
    release.set()
    await queued.drained()
    assert handled == ["e0", "e1", "e2"]
    publisher.publish(SecurityEvent("e6"))
    await queued.drained()
    assert handled[-1] == "e6"
    await queued.stop()


async def test_a_failing_queued_handler_keeps_receiving_later_events() -> None:
    handled: list[str] = []

    async def flaky(event: SecurityEvent) -> None:
        if event.type == "bad":
            raise RuntimeError("subscriber bug")
        handled.append(event.type)

    queued = Queued(flaky, maxsize=10)
    queued.start()
    for name in ("a", "bad", "b"):
        queued.offer(SecurityEvent(name))
    await queued.drained()
    await queued.stop()
    assert handled == ["a", "b"]
    assert queued.failed == 1


def test_emit_goes_to_the_bound_publisher_with_typed_attributes() -> None:
    publisher = EventPublisher()
    seen: list[SecurityEvent] = []
    publisher.subscribe(seen.append, name="seen")
    with bound(publisher):
        emit(
            "access.denied",
            severity=Severity.MEDIUM,
            principal="u1",
            address="127.0.0.1",
            action="camera_view",
        )
    assert current_publisher.get() is None
    emit("outside.any.app")  # no publisher bound: logged only
    [event] = seen
    assert (event.type, event.severity, event.principal, event.address) == (
        "access.denied",
        Severity.MEDIUM,
        "u1",
        "127.0.0.1",
    )
    assert event.fields == {"action": "camera_view"}


async def test_emit_stamps_events_with_the_publishers_clock() -> None:
    clock = ManualClock()
    publisher = EventPublisher(now=clock.now)
    seen: list[SecurityEvent] = []
    publisher.subscribe(seen.append, name="seen")
    await clock.advance(3600)
    with bound(publisher):
        emit("auth.refreshed")
    assert [e.time for e in seen] == [clock.now()]


def test_the_log_line_keeps_its_keys(json_logging: io.StringIO) -> None:
    log_event(
        SecurityEvent(
            "auth.login_failed",
            Severity.MEDIUM,
            address="127.0.0.1",
            fields={"username": "ada", "password": "hunter22"},
        )
    )
    [line] = [json.loads(x) for x in json_logging.getvalue().splitlines()]
    assert line["event"] == "auth.login_failed"
    assert line["security_event"] is True
    assert line["severity"] == "medium"
    assert line["level"] == "warning"
    assert line["client"] == "127.0.0.1"
    assert line["username"] == "ada"
    assert line["password"] == "***"
