"""Security events as alerts carry them: a masked, JSON-safe record with an id.

Alerting subscribes to the app's event publisher and turns each published event
into this record (``from_published``), masking fields itself: an alert must never
carry a secret the log line would not. ``from_log_record`` reads the same record
back from a ``lensguard.security`` log record or event dict; the server no longer
calls it (alerts no longer listen to logging), it is kept for reading logs back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lensguard.logs import mask_secrets
from lensguard.monitor import event as published
from lensguard.severity import Severity

SECURITY_LOGGER = "lensguard.security"
_ORDER = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}
# Keys structlog and emit() add around the event; everything else is a field.
_META = frozenset({"event", "security_event", "severity", "timestamp", "level", "logger"})
# Attributes every LogRecord has; anything else came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "_logger",
    "_name",
    "_from_structlog",
    "_record",
}


def at_least(severity: Severity, threshold: Severity) -> bool:
    """True when ``severity`` is ``threshold`` or more severe."""
    return _ORDER[severity] >= _ORDER[threshold]


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class SecurityEvent:
    """One security event; ``fields`` hold JSON-safe, already masked values."""

    name: str
    severity: Severity
    time: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=_new_id)

    @classmethod
    def create(cls, name: str, severity: Severity = Severity.LOW, **fields: Any) -> SecurityEvent:
        """A new event happening now; ``fields`` are masked and made JSON-safe."""
        return cls(name, severity, datetime.now(UTC), _clean_fields(fields))

    @classmethod
    def from_published(cls, event: published.SecurityEvent) -> SecurityEvent:
        """The alert record of a published event (fields as its log line names them)."""
        return cls(
            event.type, event.severity, event.time, _clean_fields(event.log_fields()), event.id
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape every sink sends (``time`` in RFC 3339, UTC)."""
        return {
            "id": self.id,
            "name": self.name,
            "severity": self.severity.value,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "fields": self.fields,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SecurityEvent:
        """Inverse of ``to_dict``; raises ValueError (or KeyError) on a malformed dict."""
        return cls(
            name=str(data["name"]),
            severity=Severity(data["severity"]),
            time=_parse_time(data["time"]),
            fields=dict(data.get("fields") or {}),
            id=str(data["id"]),
        )


@dataclass(frozen=True)
class QueuedEvent:
    """An event with its position in the durable queue (``seq`` only ever grows)."""

    seq: int
    event: SecurityEvent

    def to_dict(self) -> dict[str, Any]:
        """The event's JSON shape plus ``seq``, for receivers that deduplicate."""
        return {"seq": self.seq, **self.event.to_dict()}


def _parse_time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return str(value)


def _clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    masked = mask_secrets(None, "", {str(k): v for k, v in fields.items() if k not in _META})
    return {k: _jsonable(v) for k, v in masked.items()}


def _event_dict(record: logging.LogRecord | Mapping[str, Any]) -> tuple[dict[str, Any], float]:
    if isinstance(record, Mapping):
        return dict(record), datetime.now(UTC).timestamp()
    if isinstance(record.msg, Mapping):  # structlog's wrap_for_formatter puts the dict here
        return dict(record.msg), record.created
    data = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}
    data["event"] = record.getMessage()
    return data, record.created


def from_log_record(record: logging.LogRecord | Mapping[str, Any]) -> SecurityEvent | None:
    """The event a log record (or event dict) describes; None when it is not a security event.

    Raises ValueError when it claims to be one but its severity is not a known value.
    """
    data, created = _event_dict(record)
    if data.get("security_event") is not True:
        return None
    severity = Severity(str(data.get("severity", Severity.LOW.value)).lower())
    try:
        time = _parse_time(data["timestamp"])
    except (KeyError, ValueError):
        time = datetime.fromtimestamp(created, UTC)
    return SecurityEvent(str(data.get("event", "")), severity, time, _clean_fields(data))
