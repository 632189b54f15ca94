"""What one check found: an id, a severity, the evidence, the fix and its ASVS requirement."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from lensguard.severity import Severity

SEVERITY_ORDER = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


class Status(StrEnum):
    """``fail`` counts towards the exit code; ``skip`` means the check could not look."""

    PASS = "pass"  # noqa: S105 - a status name, not a password
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    """One check's verdict. ``severity`` is how bad a failure of this check is."""

    id: str
    title: str
    severity: Severity
    status: Status
    evidence: str
    fix: str
    asvs: str

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "severity": self.severity.value, "status": self.status.value}


def at_or_above(severity: Severity, floor: Severity) -> bool:
    """Whether ``severity`` is ``floor`` or worse."""
    return SEVERITY_ORDER.index(severity) >= SEVERITY_ORDER.index(floor)


def failing(findings: list[Finding], floor: Severity) -> list[Finding]:
    """The failed findings whose severity is ``floor`` or worse."""
    return [f for f in findings if f.status is Status.FAIL and at_or_above(f.severity, floor)]


@dataclass(frozen=True)
class Check:
    """A check's fixed parts; ``verdict`` fills in what was seen."""

    id: str
    title: str
    severity: Severity
    fix: str
    asvs: str

    def verdict(self, ok: bool, evidence: str) -> Finding:
        status = Status.PASS if ok else Status.FAIL
        return Finding(self.id, self.title, self.severity, status, evidence, self.fix, self.asvs)

    def skipped(self, why: str) -> Finding:
        return Finding(self.id, self.title, self.severity, Status.SKIP, why, self.fix, self.asvs)
