"""The engine: rules isolated from one another, cooldowns, detections handed on."""

from __future__ import annotations

from typing import ClassVar

from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.events import bound
from lensguard.monitor.publisher import EventPublisher
from lensguard.severity import Severity
from lensguard.threats.detection import Detection, DetectionPublisher
from lensguard.threats.detector_settings import DetectorSettings
from lensguard.threats.engine import ThreatEngine, build_rules
from lensguard.threats.kinds import KINDS
from lensguard.threats.observation import Observation, from_event
from lensguard.threats.response_settings import KindResponse, ResponseSettings
from lensguard.threats.rule import Finding
from lensguard.threats.windows import MemoryWindows, Windows
from tests.threats.events import event


class Broken:
    name: ClassVar[str] = "broken"
    kinds: ClassVar[tuple[str, ...]] = ()
    types: ClassVar[frozenset[str]] = frozenset({"auth.login_failed"})

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        raise RuntimeError("boom")


async def test_a_rule_that_raises_is_counted_reported_and_the_others_still_run() -> None:
    published: list[SecurityEvent] = []
    events = EventPublisher()
    events.subscribe(published.append, name="test")
    rules = [Broken(), *build_rules(DetectorSettings())]
    engine = ThreatEngine(MemoryWindows(), rules=rules)
    found: list[Detection] = []
    with bound(events):
        for n in range(6):
            found.extend(
                await engine.observe(
                    event("auth.login_failed", n, username="ada", client="203.0.113.9")
                )
            )
    assert [d.kind for d in found] == ["brute_force"]
    assert engine.failures["broken"] == 6
    reports = [e for e in published if e.type == "threats.detector_failed"]
    assert len(reports) == 1  # once a minute, not once per event
    assert reports[0].severity is Severity.HIGH and reports[0].fields["detector"] == "broken"


async def test_detections_go_to_every_subscriber_with_the_configured_response() -> None:
    seen: list[Detection] = []
    publisher = DetectionPublisher()
    publisher.subscribe(seen.append, name="test")
    responses = ResponseSettings(
        kinds={"injection": KindResponse(action="block_ip", severity=Severity.CRITICAL)}
    )
    engine = ThreatEngine(MemoryWindows(), responses=responses, publisher=publisher)
    await engine.observe(event("guard.suspicious_request", 0, client="203.0.113.9", score=90))
    assert [(d.kind, d.response, d.severity) for d in seen] == [
        ("injection", "block_ip", Severity.CRITICAL)
    ]
    assert engine.detected["injection"] == 1


async def test_disabled_rules_do_not_run() -> None:
    settings = DetectorSettings.model_validate({"brute_force": {"enabled": False}})
    engine = ThreatEngine(MemoryWindows(), detectors=settings)
    for n in range(10):
        assert await engine.observe(event("auth.login_failed", n, username="a", client="x")) == []
    assert "brute_force" not in [r.name for r in engine.rules]


def test_every_rule_kind_has_a_severity_and_response() -> None:
    for rule in build_rules(DetectorSettings()):
        assert set(rule.kinds) <= set(KINDS), rule.name


def test_a_live_event_and_its_json_line_are_the_same_observation() -> None:
    live = SecurityEvent(
        "auth.login_failed",
        Severity.MEDIUM,
        address="203.0.113.9",
        fields={"username": "ada"},
    )
    seen = from_event(live)
    assert (seen.id, seen.type, seen.address, seen.account) == (
        live.id,
        "auth.login_failed",
        "203.0.113.9",
        "ada",
    )
    assert seen.at == live.time.timestamp()
