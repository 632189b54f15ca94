"""``GET /api/v1/processors``: the AI processors a stream or site policy may name.

The names ``ai_models`` accepts, in the order a chain runs them is the caller's choice;
the console offers these instead of a free-text guess. Needs ``camera_view`` (anyone who
may read a stream's settings may know what they can hold).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from lensguard.access.principal import Principal
from lensguard.api.deps import requires
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.vision.registry import default_registry

router = APIRouter(prefix="/api/v1/processors", tags=["streams"], responses=problems(AUTHENTICATED))
Viewer = Annotated[Principal, requires("camera_view")]
MAX_MODELS = 8
"""The most processors a stream or site policy names (``ai_models``)."""


class Processors(BaseModel):
    names: list[str] = Field(description="every processor name, sorted")
    max_models: int = Field(description="the most names one ai_models list may hold")


@router.get("", summary="List the AI processors")
async def processors(_principal: Viewer) -> Processors:
    """The processor names that ``ai_models`` of a stream or site policy accepts."""
    return Processors(names=default_registry().names, max_models=MAX_MODELS)
