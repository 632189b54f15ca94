"""``ResponseSettings``: what each detection kind does automatically.

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lensguard.severity import Severity
from lensguard.threats.kinds import KINDS, ResponseAction


class KindResponse(BaseModel):
    """One kind's response: which action, whether it only watches, for how long."""

    model_config = ConfigDict(extra="forbid")

    action: ResponseAction
    severity: Severity | None = None
    """Overrides the kind's default severity (docs/threats.md, *Kinds*)."""
    monitor_only: bool = False
    """Record and alert what the action would do, but do not do it."""
    ttl_seconds: int = Field(default=3_600, ge=60, le=30 * 86_400)
    """How long a block or throttle holds (isolation and step-up hold until reversed)."""


class ResponseSettings(BaseModel):
    """What each detection kind does automatically: enforce or monitor only, TTLs, allowlists."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    monitor_only: bool = False
    """Every response only watches (a first deployment's setting, to tune thresholds)."""
    kinds: dict[str, KindResponse] = Field(default_factory=dict)
    """Per-kind overrides; kinds left out keep their default response."""
    allow_addresses: list[str] = Field(default_factory=list, max_length=1_000)
    """Addresses or CIDR ranges no response ever acts against (detections still count)."""
    allow_principals: list[str] = Field(default_factory=list, max_length=1_000)
    """Principal ids no response ever acts against."""
    throttle_per_minute: int = Field(default=60, ge=1, le=100_000)
    """Requests a minute a throttled (``rate_limit``) address keeps."""

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: dict[str, KindResponse]) -> dict[str, KindResponse]:
        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown detection kind(s) {unknown}; known: {sorted(KINDS)}")
        return value

    @field_validator("allow_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an address or CIDR range") from None
        return value

    def for_kind(self, kind: str) -> KindResponse:
        """The response in force for ``kind`` (its override, else the default)."""
        found = self.kinds.get(kind)
        if found is not None:
            return found
        return KindResponse(action=KINDS[kind][1])

    def severity(self, kind: str) -> Severity:
        """The severity detections of ``kind`` carry."""
        found = self.kinds.get(kind)
        if found is not None and found.severity is not None:
            return found.severity
        return KINDS[kind][0]
