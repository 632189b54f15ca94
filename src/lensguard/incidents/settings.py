"""``IncidentSettings``: grouping window, escalation, playbook folder, steps, attachments.

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EscalationLevel(BaseModel):
    """Who is alerted when a critical incident is still unacknowledged ``after_minutes``
    after it opened."""

    model_config = ConfigDict(extra="forbid")

    after_minutes: int = Field(ge=1, le=7 * 24 * 60)
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    """What alert routing matches on (the event's ``level_name``), e.g. ``security-lead``."""


def _default_levels() -> list[EscalationLevel]:
    return [
        EscalationLevel(after_minutes=15, name="on-call"),
        EscalationLevel(after_minutes=60, name="security-lead"),
    ]


class IncidentSettings(BaseModel):
    """Incident grouping window, escalation, playbook folder, automatic steps."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """File every detection under an incident."""
    playbook_dir: Path | None = None
    """YAML playbooks that add to the shipped ones or replace them by kind (docs/threats.md)."""
    group_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    """A detection joins a running incident about the same source seen this recently."""
    escalation: list[EscalationLevel] = Field(default_factory=_default_levels, max_length=10)
    """Levels alerted, in turn, while a critical incident is unacknowledged (empty: none)."""
    escalation_check_seconds: int = Field(default=30, ge=1, le=3600)
    """How often unacknowledged critical incidents are looked for."""
    block_minutes: int = Field(default=24 * 60, ge=1, le=365 * 24 * 60)
    """How long a playbook's ``block_ip`` step blocks the address."""
    evidence_lookback_minutes: int = Field(default=24 * 60, ge=0, le=90 * 24 * 60)
    """Legal holds and signed audit ranges start this long before the incident opened."""
    attachment_max_bytes: int = Field(default=25 * 1_048_576, ge=1_024, le=512 * 1_048_576)
    """The largest evidence file one upload may bring (``POST …/attachments``)."""
    attachments_per_incident: int = Field(default=100, ge=1, le=1_000)
    """How many evidence files one incident may hold."""

    @field_validator("escalation")
    @classmethod
    def _increasing(cls, levels: list[EscalationLevel]) -> list[EscalationLevel]:
        minutes = [level.after_minutes for level in levels]
        if minutes != sorted(set(minutes)):
            raise ValueError("escalation levels must come in strictly increasing after_minutes")
        return levels
