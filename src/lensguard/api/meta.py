"""The OpenAPI document, served as a declared route like every other."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from lensguard.access.declare import PUBLIC
from lensguard.api.deps import requires

router = APIRouter(tags=["meta"])


@router.get("/openapi.json", dependencies=[requires(PUBLIC)], include_in_schema=False)
async def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI 3 description of every operation."""
    document: dict[str, Any] = request.app.openapi()
    return document
