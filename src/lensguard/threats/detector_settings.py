"""``DetectorSettings``: thresholds and windows of the rule-based detectors.

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DetectorSettings(BaseModel):
    """Thresholds and windows of the rule-based detectors."""

    model_config = ConfigDict(extra="forbid")
