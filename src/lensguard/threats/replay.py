"""``replay``: the live detectors, offline, over a file of events.

Input: one event per line in the documented schema (docs/threats.md, *Event schema*),
ideally in time order. Output: one JSON line per detection, naming the events that
triggered it, which is how detection quality is measured against labelled sets. A
malformed line is reported with its number and skipped; the run goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from lensguard.threats.detection import Detection
from lensguard.threats.engine import ThreatEngine
from lensguard.threats.observation import MalformedEvent, from_json

MAX_LINE = 1 << 20
"""Longer lines are refused as malformed (an event is a few hundred bytes)."""
KEPT_ERRORS = 1_000


@dataclass
class ReplayReport:
    """What a replay read and found."""

    lines: int = 0
    events: int = 0
    detections: int = 0
    malformed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    """The first ``KEPT_ERRORS`` malformed lines: (line number, why)."""
    kinds: dict[str, int] = field(default_factory=dict)


def detection_json(detection: Detection) -> dict[str, Any]:
    """The output line of one detection."""
    return {
        "kind": detection.kind,
        "score": detection.score,
        "severity": detection.severity.value,
        "response": detection.response,
        "address": detection.address,
        "principal": detection.principal,
        "event_ids": list(detection.event_ids),
        "time": detection.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "details": dict(detection.details),
    }


def parse_line(line: str | bytes) -> Any:
    """Decode one line; raises ``MalformedEvent``."""
    if len(line) > MAX_LINE:
        raise MalformedEvent(f"line longer than {MAX_LINE} bytes")
    try:
        return json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"not JSON ({exc.__class__.__name__})") from None


async def replay(
    lines: Iterable[str | bytes],
    engine: ThreatEngine,
    write: Callable[[str], object],
    *,
    on_error: Callable[[int, str], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Run ``engine`` over ``lines``; ``write`` gets each detection's JSON line."""
    report = ReplayReport()
    last = 0.0
    for number, line in enumerate(lines, start=1):
        report.lines = number
        if progress is not None:
            progress(len(line))
        if not line.strip():
            continue
        try:
            event = from_json(parse_line(line))
        except MalformedEvent as exc:
            report.malformed += 1
            if len(report.errors) < KEPT_ERRORS:
                report.errors.append((number, str(exc)))
            if on_error is not None:
                on_error(number, str(exc))
            continue
        report.events += 1
        last = max(last, event.at)
        _written(report, await engine.observe(event), write)
    _written(report, await engine.finish(last), write)
    return report


def _written(
    report: ReplayReport, detections: list[Detection], write: Callable[[str], object]
) -> None:
    for detection in detections:
        report.detections += 1
        report.kinds[detection.kind] = report.kinds.get(detection.kind, 0) + 1
        write(json.dumps(detection_json(detection), separators=(",", ":")) + "\n")
