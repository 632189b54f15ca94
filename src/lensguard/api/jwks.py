"""``/.well-known/jwks.json``: public keys that verify lensguard access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from lensguard.access.declare import PUBLIC
from lensguard.api.deps import ServicesDep, requires

router = APIRouter(tags=["auth"])


class JwkSet(BaseModel):
    """An RFC 7517 JSON Web Key Set."""

    keys: list[dict[str, Any]] = Field(description="Public JWKs, each with its kid")


@router.get("/.well-known/jwks.json", dependencies=[requires(PUBLIC)], summary="Signing keys")
async def jwks(services: ServicesDep, response: Response) -> JwkSet:
    """Current and recently retired public signing keys (JWK Set)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return JwkSet.model_validate(await services.tokens.jwks())
