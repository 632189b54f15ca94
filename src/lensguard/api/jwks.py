"""``/.well-known/jwks.json``: public keys that verify lensguard tokens and evidence bundles.

Token keys and evidence keys are told apart by kid (evidence kids start with
``evidence-``); the token verifier reads only its own keys, so a token signed with an
evidence key never verifies. Evidence keys stay listed after rotation, for good; a
new one shows within ``EVIDENCE_CACHE_SECONDS``.
"""

from __future__ import annotations

import weakref
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from lensguard.access.declare import PUBLIC
from lensguard.api.deps import ServicesDep, requires
from lensguard.recordings.evidence_keys import EvidenceKeys
from lensguard.services import Services
from lensguard.store.db import Database

router = APIRouter(tags=["auth"])
EVIDENCE_CACHE_SECONDS = 5.0
"""How long one app serves the evidence keys it read (a public route: not a query each)."""
_evidence: weakref.WeakKeyDictionary[Database, tuple[float, list[dict[str, Any]]]] = (
    weakref.WeakKeyDictionary()
)


async def evidence_jwks(services: Services) -> list[dict[str, Any]]:
    """The evidence keys' JWKs, read at most every few seconds per app."""
    now = services.clock.monotonic()
    cached = _evidence.get(services.db)
    if cached is not None and 0 <= now - cached[0] < EVIDENCE_CACHE_SECONDS:
        return cached[1]
    keys = await EvidenceKeys(services.db, wrap_key=services.wrap_key).jwks()
    _evidence[services.db] = (now, keys)
    return keys


class JwkSet(BaseModel):
    """An RFC 7517 JSON Web Key Set."""

    keys: list[dict[str, Any]] = Field(description="Public JWKs, each with its kid")


@router.get("/.well-known/jwks.json", dependencies=[requires(PUBLIC)], summary="Signing keys")
async def jwks(services: ServicesDep, response: Response) -> JwkSet:
    """Current and recently retired token signing keys, and every evidence key (JWK Set)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    tokens = await services.tokens.jwks()
    return JwkSet(keys=[*tokens["keys"], *(dict(k) for k in await evidence_jwks(services))])
