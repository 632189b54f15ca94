"""``ResponseSettings``: what each detection kind does automatically.

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ResponseSettings(BaseModel):
    """What each detection kind does automatically: enforce or monitor only, TTLs, allowlists."""

    model_config = ConfigDict(extra="forbid")
