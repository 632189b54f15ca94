"""``ModelSettings``: the anomaly model (storage, score threshold, feature windows).

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModelSettings(BaseModel):
    """The anomaly model: where it is stored, its score threshold, its feature windows."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Score live windows when a trained model file is present (`lensguard threats train`)."""
    file: str = Field(default="threat-model.lgm", pattern=r"^[A-Za-z0-9._-]{1,128}$")
    """The model's file name under ``var_dir``."""
    threshold: float = Field(default=0.65, gt=0.5, lt=1.0)
    """Anomaly scores (0.5 ordinary … 1 isolated at once) at or above this are detections."""
    window_seconds: int = Field(default=600, ge=60, le=86_400)
    """The length of one feature window (training and scoring use the same)."""
    trees: int = Field(default=100, ge=10, le=1_000)
    """Trees in the forest when training."""
