"""``/.well-known/jwks.json``: public keys that verify lensguard access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from lensguard.access.declare import PUBLIC
from lensguard.api.deps import ServicesDep, requires

router = APIRouter(tags=["auth"])


@router.get("/.well-known/jwks.json", dependencies=[requires(PUBLIC)])
async def jwks(services: ServicesDep, response: Response) -> dict[str, Any]:
    """Current and recently retired public signing keys (JWK Set)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return await services.tokens.jwks()
