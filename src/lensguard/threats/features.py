"""Feature windows for the anomaly model: one row per principal (or address) per window.

A row describes what one source did in one fixed window (``window_seconds``, aligned
to the epoch): how much it asked for, how widely, how often it failed, how much it
took, when, and across how many devices and sites. Counts are ``log1p``-scaled (a
busy operator and a quiet viewer should differ by a few units, not by thousands) and
the hour is on a circle (23:00 sits next to 00:00).

``Aggregator`` builds rows from observations in time order. When an event falls in a
later window than the current one, every open window closes at once and their rows are
handed on together (one batch to score, not one call per row); an event from an earlier
window than the current one counts in the current one. It keeps at most
``max_subjects`` open windows; past that the oldest is closed early.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lensguard.threats.observation import Observation

FEATURES = (
    "requests",
    "endpoints",
    "failures",
    "bytes_out",
    "hour_sin",
    "hour_cos",
    "devices",
    "sites",
)
"""The feature schema, in column order; a stored model names it and must match."""
FAILURES = frozenset(
    {
        "auth.login_failed",
        "auth.mfa_failed",
        "auth.refresh_failed",
        "auth.rejected",
        "access.denied",
        "signal.subscribe_refused",
        "signal.auth_failed",
        "redaction.override_refused",
    }
)
MAX_DISTINCT = 256
"""Distinct endpoints, devices and sites remembered per window (enough to tell wide from narrow)."""


@dataclass
class _Open:
    start: float
    requests: int = 0
    failures: int = 0
    bytes_out: float = 0.0
    endpoints: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    sites: set[str] = field(default_factory=set)
    event_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """One source's window: its features and the events it was built from (first 20)."""

    subject: str
    start: float
    values: tuple[float, ...]
    event_ids: tuple[str, ...]


def _note(bucket: set[str], value: str | None) -> None:
    if value is not None and len(bucket) < MAX_DISTINCT:
        bucket.add(value)


def _row(subject: str, window: _Open, length: float) -> Row:
    hour = ((window.start + length / 2) % 86_400) / 3_600
    angle = 2 * math.pi * hour / 24
    values = (
        math.log1p(window.requests),
        math.log1p(len(window.endpoints)),
        math.log1p(window.failures),
        math.log1p(window.bytes_out / 1_000_000),
        math.sin(angle),
        math.cos(angle),
        math.log1p(len(window.devices)),
        math.log1p(len(window.sites)),
    )
    return Row(subject, window.start, values, tuple(window.event_ids))


class Aggregator:
    """Rows from observations, per source (principal, else address) and window."""

    def __init__(self, window_seconds: float = 600.0, *, max_subjects: int = 100_000) -> None:
        self.window = float(window_seconds)
        self.max_subjects = max_subjects
        self._open: dict[str, _Open] = {}
        self._current = -math.inf

    def add(self, event: Observation) -> list[Row]:
        """Count ``event``; the rows of the windows it closed (usually none)."""
        subject = event.account or event.address
        start = math.floor(event.at / self.window) * self.window
        closed: list[Row] = []
        if start > self._current:
            closed = self.flush()
            self._current = start
        if subject is None:
            return closed
        window = self._open.get(subject)
        if window is None:
            if len(self._open) >= self.max_subjects:
                oldest = next(iter(self._open))
                closed.append(_row(oldest, self._open.pop(oldest), self.window))
            window = self._open[subject] = _Open(self._current)
        window.requests += 1
        if event.type in FAILURES or event.outcome in ("failure", "denied"):
            window.failures += 1
        amount = event.number("bytes")
        if event.type == "data.egress" and amount is not None and amount > 0:
            window.bytes_out += amount
        _note(window.endpoints, event.text("route") or event.type)
        _note(window.devices, event.text("device_id") or event.text("resource_id"))
        _note(window.sites, event.text("site"))
        if len(window.event_ids) < 20:
            window.event_ids.append(event.id)
        return closed

    def flush(self) -> list[Row]:
        """Close every open window."""
        rows = [_row(subject, w, self.window) for subject, w in self._open.items()]
        self._open.clear()
        return rows
