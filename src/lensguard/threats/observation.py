"""``Observation``: a security event as the detectors read it, live or replayed.

Live events come from the app's publisher (``from_event``); replayed ones are lines in
the documented JSON schema, the shape alerts and the SIEM receive (``from_json``,
docs/threats.md *Event schema*). Both end as the same value, so the detectors cannot
tell a replay from the live server.

Who an event is about differs by type: a failed sign-in names the attempted
``username``, a refresh names the ``user_id``, a request names its ``principal``.
``account`` is the first of these that is set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lensguard.monitor.event import SecurityEvent

MAX_TEXT = 256
"""Longer identifiers are cut: a key in the windows must stay small."""

_ACCOUNT_KEYS = ("principal", "user_id", "username")
_ADDRESS_KEYS = ("client", "address")


class MalformedEvent(ValueError):
    """A replayed line that is not an event in the documented schema."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One event: its id and type, when (Unix seconds), from where, about whom."""

    id: str
    type: str
    at: float
    address: str | None = None
    account: str | None = None
    outcome: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def number(self, name: str) -> float | None:
        """A numeric field, or None when missing or not a finite number."""
        value = self.fields.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value) if math.isfinite(value) else None

    def text(self, name: str) -> str | None:
        """A text field (numbers are written out), cut to ``MAX_TEXT``; None when missing."""
        value = self.fields.get(name)
        if value is None or isinstance(value, (dict, list)):
            return None
        return _cut(str(value))


def _cut(value: str) -> str:
    return value[:MAX_TEXT]


def _first(values: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = values.get(key)
        if isinstance(value, str) and value:
            return _cut(value)
    return None


def from_event(event: SecurityEvent) -> Observation:
    """The observation of a published event."""
    found = event.log_fields()
    return Observation(
        id=event.id,
        type=event.type,
        at=event.time.timestamp(),
        address=_cut(event.address) if event.address else _first(found, _ADDRESS_KEYS),
        account=_first(found, _ACCOUNT_KEYS),
        outcome=event.outcome,
        fields=found,
    )


def _time(value: Any) -> float:
    if isinstance(value, bool):
        raise MalformedEvent("time must be an RFC 3339 string or Unix seconds")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise MalformedEvent("time must be finite")
        return float(value)
    if not isinstance(value, str):
        raise MalformedEvent("time must be an RFC 3339 string or Unix seconds")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedEvent(f"time {value[:40]!r} is not RFC 3339") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def from_json(data: Any) -> Observation:
    """The observation of one decoded JSON line; raises ``MalformedEvent``.

    Required: ``id`` and ``name`` (or ``type``) as non-empty text, ``time``. Optional:
    ``fields`` (an object); ``principal``, ``client`` / ``address``, ``outcome`` may sit at
    the top level or in ``fields``.
    """
    if not isinstance(data, dict):
        raise MalformedEvent("an event is a JSON object")
    event_id, kind = data.get("id"), data.get("name", data.get("type"))
    if not isinstance(event_id, str) or not event_id:
        raise MalformedEvent("id must be a non-empty string")
    if not isinstance(kind, str) or not kind:
        raise MalformedEvent("name must be a non-empty string")
    if "time" not in data:
        raise MalformedEvent("time is missing")
    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        raise MalformedEvent("fields must be an object")
    merged = {**fields, **{k: data[k] for k in ("principal", "client", "address") if k in data}}
    outcome = data.get("outcome", fields.get("outcome"))
    return Observation(
        id=_cut(event_id),
        type=_cut(kind),
        at=_time(data["time"]),
        address=_first(merged, _ADDRESS_KEYS),
        account=_first(merged, _ACCOUNT_KEYS),
        outcome=outcome if isinstance(outcome, str) else None,
        fields=merged,
    )
