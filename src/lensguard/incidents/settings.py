"""``IncidentSettings``: incident grouping window, escalation, playbook folder.

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class IncidentSettings(BaseModel):
    """Incident grouping window, escalation, playbook folder."""

    model_config = ConfigDict(extra="forbid")

    playbook_dir: Path | None = None
    """YAML playbooks that add to the shipped ones or replace them by kind (docs/threats.md)."""
