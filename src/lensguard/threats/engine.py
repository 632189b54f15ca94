"""``ThreatEngine``: every enabled rule over each observation, isolated from one another.

A rule that raises is counted (``failures``), logged and reported once a minute as a
HIGH ``threats.detector_failed`` security event; the other rules still see the event.
A finding becomes a ``Detection`` unless the same kind about the same source was
reported within the cooldown (so one attack is one detection, not one per event); each
detection goes to the ``DetectionPublisher`` (responses, incidents) and is returned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.threats.detection import Detection, DetectionPublisher
from lensguard.threats.detector_settings import DetectorSettings
from lensguard.threats.kinds import KINDS
from lensguard.threats.observation import Observation
from lensguard.threats.response_settings import ResponseSettings
from lensguard.threats.rule import Finding, Rule
from lensguard.threats.rules_access import DeviceCredential, Escalation, LateralMovement
from lensguard.threats.rules_auth import BruteForce, Tokens
from lensguard.threats.rules_data import Exfiltration, OffHours
from lensguard.threats.rules_traffic import Injection, RequestRate
from lensguard.threats.windows import Windows

log = get_logger("lensguard.threats.engine")
FAILURE_REPORT_SECONDS = 60.0


def build_rules(settings: DetectorSettings) -> list[Rule]:
    """The enabled rules, in a fixed order."""
    candidates: list[tuple[bool, Callable[[], Rule]]] = [
        (settings.brute_force.enabled, lambda: BruteForce(settings.brute_force)),
        (settings.request_rate.enabled, lambda: RequestRate(settings.request_rate)),
        (settings.injection.enabled, lambda: Injection(settings.injection)),
        (settings.exfiltration.enabled, lambda: Exfiltration(settings.exfiltration)),
        (settings.off_hours.enabled, lambda: OffHours(settings.off_hours)),
        (settings.escalation.enabled, lambda: Escalation(settings.escalation)),
        (settings.lateral_movement.enabled, lambda: LateralMovement(settings.lateral_movement)),
        (settings.device_credential.enabled, lambda: DeviceCredential(settings.device_credential)),
        (settings.tokens.enabled, lambda: Tokens(settings.tokens)),
    ]
    return [make() for enabled, make in candidates if enabled and settings.enabled]


class ThreatEngine:
    """Runs ``rules`` over observations, keeping their state in ``windows``."""

    def __init__(
        self,
        windows: Windows,
        *,
        detectors: DetectorSettings | None = None,
        responses: ResponseSettings | None = None,
        rules: list[Rule] | None = None,
        publisher: DetectionPublisher | None = None,
    ) -> None:
        self.windows = windows
        self.detectors = detectors or DetectorSettings()
        self.responses = responses or ResponseSettings()
        self.rules = rules if rules is not None else build_rules(self.detectors)
        self.publisher = publisher or DetectionPublisher()
        self.observed = 0
        self.failures: Counter[str] = Counter()
        """Events a rule could not judge because it raised, per rule name."""
        self.detected: Counter[str] = Counter()
        """Detections raised, per kind."""
        self._by_type: dict[str, list[Rule]] = {}
        self._every_type = [r for r in self.rules if not r.types]
        self._stamps = {
            kind: (self.responses.severity(kind), self.responses.for_kind(kind).action)
            for kind in KINDS
        }

    def _rules_for(self, event_type: str) -> list[Rule]:
        found = self._by_type.get(event_type)
        if found is None:
            found = [r for r in self.rules if event_type in r.types] + self._every_type
            if len(self._by_type) < 10_000:  # event types are few; never let them grow memory
                self._by_type[event_type] = found
        return found

    async def observe(self, event: Observation) -> list[Detection]:
        """Judge one event; the detections it raised (already published)."""
        self.observed += 1
        raised: list[Detection] = []
        for rule in self._rules_for(event.type):
            try:
                findings = await rule.observe(event, self.windows)
            except Exception as exc:
                await self._failed(rule, event, exc)
                continue
            for finding in findings:
                detection = await self._admit(finding, event.at, event.id)
                if detection is not None:
                    raised.append(detection)
        return raised

    async def finish(self, at: float) -> list[Detection]:
        """The end of the input (a replay): rules holding open windows judge them."""
        raised: list[Detection] = []
        for rule in self.rules:
            finish = getattr(rule, "finish", None)
            if finish is None:
                continue
            for finding in await finish():
                detection = await self._admit(finding, at, None)
                if detection is not None:
                    raised.append(detection)
        return raised

    async def _admit(self, finding: Finding, at: float, event_id: str | None) -> Detection | None:
        cooldown = float(self.detectors.cooldown_seconds)
        key = f"cd:{finding.kind}:{finding.subject}"
        if not await self.windows.once(key, at, cooldown):
            return None
        severity, response = self._stamps.get(finding.kind, (Severity.MEDIUM, "alert_and_monitor"))
        detection = Detection(
            kind=finding.kind,
            severity=severity,
            score=round(finding.score, 4),
            response=response,
            address=finding.address,
            principal=finding.principal,
            event_ids=finding.event_ids or ((event_id,) if event_id else ()),
            details=dict(finding.details),
            time=datetime.fromtimestamp(at, UTC),
        )
        self.detected[finding.kind] += 1
        self.publisher.publish(detection)
        return detection

    async def _failed(self, rule: Rule, event: Observation, exc: Exception) -> None:
        self.failures[rule.name] += 1
        log.warning(
            "detector_failed", detector=rule.name, event_type=event.type, error=type(exc).__name__
        )
        try:
            first = await self.windows.once(f"df:{rule.name}", event.at, FAILURE_REPORT_SECONDS)
        except Exception:
            first = True
        if first:
            emit(
                "threats.detector_failed",
                severity=Severity.HIGH,
                detector=rule.name,
                error=type(exc).__name__,
                failures=self.failures[rule.name],
            )
