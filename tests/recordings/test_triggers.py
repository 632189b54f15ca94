"""The triggers of event recordings: detections (motion included) and HIGH incidents."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lensguard.clock import ManualClock
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings.triggers import DetectionTrigger, IncidentTrigger
from lensguard.severity import Severity
from lensguard.vision.processor import Detection

DEVICE = "dev-trig"
WHEN = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@dataclass
class Pulled:
    """Stands in for the gate: keeps what triggered it (the gate has its own tests)."""

    device_id: str = DEVICE
    calls: list[tuple[str, str, datetime]] = field(default_factory=list)

    def trigger(self, reason: str, device_id: str, at: datetime) -> bool:
        self.calls.append((reason, device_id, at))
        return True


def box(label: str) -> Detection:
    return Detection((0, 0, 10, 10), label, 0.9)


def test_any_detection_triggers_at_the_clock_s_time_and_motion_is_its_own_reason() -> None:
    gate, clock = Pulled(), ManualClock(start=WHEN.timestamp())
    trigger = DetectionTrigger(gate, now=clock.now)
    trigger(None, [])
    assert gate.calls == []
    trigger(3000, [box("face"), box("motion")])  # one trigger per frame: its first label
    trigger(6000, [box("motion")])
    assert gate.calls == [("detection:face", DEVICE, WHEN), ("motion", DEVICE, WHEN)]


def test_a_label_list_filters_detections_and_long_labels_are_cut() -> None:
    gate, clock = Pulled(), ManualClock(start=WHEN.timestamp())
    only = DetectionTrigger(gate, now=clock.now, labels=["person", "x" * 100])
    only(None, [box("face"), box("motion")])
    assert gate.calls == []
    only(None, [box("face"), box("x" * 100)])
    assert [reason for reason, _, _ in gate.calls] == ["detection:" + "x" * 54]


async def test_high_incidents_naming_the_device_trigger_at_the_event_s_time() -> None:
    gate, publisher = Pulled(), EventPublisher()
    unsubscribe = IncidentTrigger(gate).attach(publisher)
    later = datetime(2026, 12, 4, 12, 5, tzinfo=UTC)
    publisher.publish(SecurityEvent("robot.tamper", Severity.HIGH, resource=DEVICE, time=WHEN))
    publisher.publish(
        SecurityEvent(
            "incident.opened", Severity.CRITICAL, fields={"device_id": DEVICE}, time=later
        )
    )
    # Not these: too mild, another device, none named, and the recordings' own alerts.
    publisher.publish(SecurityEvent("auth.failed", Severity.MEDIUM, resource=DEVICE, time=WHEN))
    publisher.publish(SecurityEvent("robot.tamper", Severity.HIGH, resource="other", time=WHEN))
    publisher.publish(SecurityEvent("node.down", Severity.CRITICAL, time=WHEN))
    publisher.publish(
        SecurityEvent("recording.store_failed", Severity.HIGH, resource=DEVICE, time=WHEN)
    )
    assert gate.calls == [
        ("incident:robot.tamper", DEVICE, WHEN),
        ("incident:incident.opened", DEVICE, later),
    ]
    unsubscribe()
    publisher.publish(SecurityEvent("robot.tamper", Severity.HIGH, resource=DEVICE, time=WHEN))
    assert len(gate.calls) == 2 and publisher.subscribers == []


async def test_an_incident_published_on_another_thread_reaches_the_gate_on_its_loop() -> None:
    loop = asyncio.get_running_loop()
    seen: list[asyncio.AbstractEventLoop | None] = []

    class OnLoop(Pulled):
        def trigger(self, reason: str, device_id: str, at: datetime) -> bool:
            seen.append(asyncio.get_running_loop())
            return super().trigger(reason, device_id, at)

    gate, publisher = OnLoop(), EventPublisher()
    IncidentTrigger(gate).attach(publisher)
    arrived = asyncio.Event()
    naive = datetime(2026, 12, 4, 12, 0)

    def publish() -> None:
        publisher.publish(SecurityEvent("robot.tamper", Severity.HIGH, resource=DEVICE, time=naive))
        loop.call_soon_threadsafe(arrived.set)

    thread = threading.Thread(target=publish)
    thread.start()
    await asyncio.wait_for(arrived.wait(), 10)
    thread.join()
    assert seen == [loop] and gate.calls == [("incident:robot.tamper", DEVICE, WHEN)]
