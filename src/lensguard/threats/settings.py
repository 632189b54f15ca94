"""``ThreatSettings``: the ``threats`` section (detectors, anomaly model, responses).

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from lensguard.threats.detector_settings import DetectorSettings
from lensguard.threats.model_settings import ModelSettings
from lensguard.threats.response_settings import ResponseSettings


class ThreatSettings(BaseModel):
    """Threat detection and automatic response (docs/threats.md)."""

    model_config = ConfigDict(extra="forbid")

    detectors: DetectorSettings = Field(default_factory=DetectorSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    responses: ResponseSettings = Field(default_factory=ResponseSettings)
