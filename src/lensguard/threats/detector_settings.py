"""``DetectorSettings``: thresholds and windows of the rule-based detectors.

The defaults are the source guides' (1000 requests a minute, 5 failed sign-ins, 1 GB
out, 1 injection, 3 escalation attempts) with windows chosen so that ordinary use stays
well below them (docs/threats.md, *Rules*). Imports nothing from ``lensguard.settings``
(which imports this module) and nothing heavier than pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True


class BruteForceRule(_Rule):
    """Failed sign-ins: one address many times or against many accounts; one account
    from many addresses."""

    failures: int = Field(default=5, ge=2, le=10_000)
    accounts: int = Field(default=5, ge=2, le=10_000)
    addresses: int = Field(default=5, ge=2, le=10_000)
    window_seconds: int = Field(default=600, ge=1, le=86_400)


class RequestRateRule(_Rule):
    """Request-rate spikes of one address and of the whole node (DDoS)."""

    per_address: int = Field(default=1000, ge=10, le=10_000_000)
    per_node: int = Field(default=50_000, ge=100, le=100_000_000)
    window_seconds: int = Field(default=60, ge=1, le=3_600)


class InjectionRule(_Rule):
    """Requests the suspicious-request scorer rated at or above ``score``."""

    score: int = Field(default=50, ge=1, le=100)
    count: int = Field(default=1, ge=1, le=1_000)
    window_seconds: int = Field(default=600, ge=1, le=86_400)


class ExfiltrationRule(_Rule):
    """Bytes of recordings, exports and audit exports per principal per window."""

    bytes: int = Field(default=1_000_000_000, ge=1_000_000, le=10**15)
    window_seconds: int = Field(default=3_600, ge=60, le=7 * 86_400)


class OffHoursRule(_Rule):
    """Data access in an hour a principal has (almost) never used before.

    Judged only once the principal has ``min_history`` accesses on record; the hour
    counts as unusual when it and the two hours either side hold less than ``share``
    of them.
    """

    min_history: int = Field(default=200, ge=10, le=1_000_000)
    share: float = Field(default=0.005, gt=0, lt=0.5)
    history_days: int = Field(default=30, ge=1, le=365)


class EscalationRule(_Rule):
    """Refused attempts to use privileged actions, widen a scope or grant a role."""

    attempts: int = Field(default=3, ge=1, le=1_000)
    window_seconds: int = Field(default=600, ge=1, le=86_400)


class LateralMovementRule(_Rule):
    """Refusals across many different resources by one principal."""

    resources: int = Field(default=8, ge=2, le=10_000)
    window_seconds: int = Field(default=600, ge=1, le=86_400)


class DeviceCredentialRule(_Rule):
    """One device credential used from more than one address at once."""

    addresses: int = Field(default=2, ge=2, le=1_000)
    window_seconds: int = Field(default=120, ge=1, le=86_400)


class TokenRule(_Rule):
    """Refresh-token reuse, and sign-ins further apart than anyone can travel."""

    max_speed_kmh: float = Field(default=1_000.0, ge=100.0, le=100_000.0)
    min_distance_km: float = Field(default=500.0, ge=0.0, le=20_000.0)
    country_change_seconds: int = Field(default=1_800, ge=0, le=86_400)


class DetectorSettings(BaseModel):
    """Thresholds and windows of the rule-based detectors."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    cooldown_seconds: int = Field(default=300, ge=1, le=86_400)
    """After a detection, the same kind about the same source stays quiet this long."""
    max_keys: int = Field(default=200_000, ge=1_000, le=100_000_000)
    """Window keys one node keeps in memory (embedded mode); the least recent go first."""
    brute_force: BruteForceRule = Field(default_factory=BruteForceRule)
    request_rate: RequestRateRule = Field(default_factory=RequestRateRule)
    injection: InjectionRule = Field(default_factory=InjectionRule)
    exfiltration: ExfiltrationRule = Field(default_factory=ExfiltrationRule)
    off_hours: OffHoursRule = Field(default_factory=OffHoursRule)
    escalation: EscalationRule = Field(default_factory=EscalationRule)
    lateral_movement: LateralMovementRule = Field(default_factory=LateralMovementRule)
    device_credential: DeviceCredentialRule = Field(default_factory=DeviceCredentialRule)
    tokens: TokenRule = Field(default_factory=TokenRule)
