"""``/.well-known/jwks.json``: public keys that verify lensguard tokens and evidence bundles.

Token keys and evidence keys are told apart by kid (evidence kids start with
``evidence-``); the token verifier reads only its own keys, so a token signed with an
evidence key never verifies. Evidence keys stay listed after rotation, for good.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from lensguard.access.declare import PUBLIC
from lensguard.api.deps import ServicesDep, requires
from lensguard.recordings.evidence_keys import EvidenceKeys

router = APIRouter(tags=["auth"])


class JwkSet(BaseModel):
    """An RFC 7517 JSON Web Key Set."""

    keys: list[dict[str, Any]] = Field(description="Public JWKs, each with its kid")


@router.get("/.well-known/jwks.json", dependencies=[requires(PUBLIC)], summary="Signing keys")
async def jwks(services: ServicesDep, response: Response) -> JwkSet:
    """Current and recently retired token signing keys, and every evidence key (JWK Set)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    tokens = await services.tokens.jwks()
    evidence = await EvidenceKeys(services.db, wrap_key=services.wrap_key).jwks()
    return JwkSet(keys=[*tokens["keys"], *evidence])
