"""``ModelSettings``: the anomaly model (storage, score threshold, feature windows).

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ModelSettings(BaseModel):
    """The anomaly model: where it is stored, its score threshold, its feature windows."""

    model_config = ConfigDict(extra="forbid")
