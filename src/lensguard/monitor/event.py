"""``SecurityEvent``: one security-relevant thing that happened, as a typed value."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from lensguard.severity import Severity

Outcome = Literal["success", "failure", "denied"]

# The log line's key for each typed attribute. ``address`` is written as ``client``,
# the name every security log line has used for the caller's address.
LOG_KEYS = {"principal": "principal", "resource": "resource", "outcome": "outcome"}
ADDRESS_LOG_KEY = "client"


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class SecurityEvent:
    """What happened (``type``), how bad, who, to what, how it ended, from where, when.

    ``fields`` carry whatever else the event type needs; subscribers must treat them
    as untrusted text (sinks mask secret-looking values before sending them anywhere).
    """

    type: str
    severity: Severity = Severity.LOW
    principal: str | None = None
    resource: str | None = None
    outcome: Outcome | None = None
    address: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=_now)
    id: str = field(default_factory=_new_id)
    """Unique per event: alerts, the SIEM and detections name the event by it."""

    def log_fields(self) -> dict[str, Any]:
        """The fields of the event's log line: the typed attributes that are set, then the rest."""
        found: dict[str, Any] = {}
        if self.principal is not None:
            found[LOG_KEYS["principal"]] = self.principal
        if self.resource is not None:
            found[LOG_KEYS["resource"]] = self.resource
        if self.outcome is not None:
            found[LOG_KEYS["outcome"]] = self.outcome
        if self.address is not None:
            found[ADDRESS_LOG_KEY] = self.address
        found.update(self.fields)
        return found
