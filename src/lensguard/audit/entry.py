"""What callers hand to the audit log (``AuditEvent``) and what reading it gives back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OUTCOMES = frozenset({"success", "failure", "denied"})
ACTOR_TYPES = frozenset({"user", "api_key", "device", "system", "anonymous"})
ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")
# Column widths (see models.py); checked here so both backends refuse the same input.
LIMITS = {
    "action": 64,
    "actor_id": 128,
    "actor_name": 255,
    "source_address": 64,
    "resource_type": 64,
    "resource_id": 255,
}


def _check_text(name: str, value: str | None) -> None:
    if value is None:
        return
    if len(value) > LIMITS[name]:
        raise ValueError(f"{name} is longer than {LIMITS[name]} characters")
    # PostgreSQL text cannot hold NUL and UTF-8 cannot hold lone surrogates: refuse
    # them on every backend rather than fail only on one.
    if "\x00" in value:
        raise ValueError(f"{name} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} is not valid Unicode text") from None


@dataclass(frozen=True)
class AuditEvent:
    """One security-relevant action, as a caller reports it."""

    action: str
    """Dotted lower-case name, e.g. ``auth.login``, ``user.role_changed``."""
    outcome: str
    """``success``, ``failure`` or ``denied``."""
    actor_type: str
    """``user``, ``api_key``, ``device``, ``system`` or ``anonymous``."""
    actor_id: str | None = None
    actor_name: str | None = None
    source_address: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable; must not carry personal data (erasure cannot reach it)."""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        if self.actor_type not in ACTOR_TYPES:
            raise ValueError(f"actor_type must be one of {sorted(ACTOR_TYPES)}")
        _check_text("action", self.action)
        if not ACTION_PATTERN.match(self.action):
            raise ValueError("action must be dotted lower-case words, e.g. 'auth.login'")
        for name in ("actor_id", "actor_name", "source_address", "resource_type", "resource_id"):
            _check_text(name, getattr(self, name))
        if not isinstance(self.details, Mapping):
            raise ValueError("details must be a mapping")


@dataclass(frozen=True)
class AuditRow:
    """One stored entry, as queries and exports return it."""

    seq: int
    ts: datetime
    actor_type: str
    actor_ref: str | None
    actor_id: str | None
    actor_name: str | None
    source_address: str | None
    personal_erased: bool
    action: str
    resource_type: str | None
    resource_id: str | None
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (``ts`` as ISO 8601 UTC)."""
        return {
            "seq": self.seq,
            "ts": self.ts.isoformat(timespec="microseconds"),
            "actor_type": self.actor_type,
            "actor_ref": self.actor_ref,
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "source_address": self.source_address,
            "personal_erased": self.personal_erased,
            "action": self.action,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "outcome": self.outcome,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
        }
