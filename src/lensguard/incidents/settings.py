"""``IncidentSettings``: incident grouping window, escalation, playbook folder.

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class IncidentSettings(BaseModel):
    """Incident grouping window, escalation, playbook folder."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """File every detection under an incident."""
    playbook_dir: Path | None = None
    """YAML playbooks that add to the shipped ones or replace them by kind (docs/threats.md)."""
    group_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    """A detection joins a running incident about the same source seen this recently."""
