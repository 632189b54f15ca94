"""ID tokens and back-channel logout tokens: validated before anything trusts them.

The header is read first: its ``alg`` must be one the provider's settings allow (never
``none``, never HS*: a public key is no shared secret), and the signature must verify
under a key of the provider's JWKS. Then the claims, each with its own reason:
``iss`` exactly the provider's, ``aud`` holding our client id (``azp`` ours whenever
present or ``aud`` names others), ``exp`` in the future and ``iat`` not in the future
(both within the configured skew), ``nonce`` ours (ID tokens) or absent (logout tokens).
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from lensguard.identity.oidc.metadata import ProviderMetadata
from lensguard.oidc_settings import OidcProviderSettings

MAX_TOKEN_CHARS = 16 * 1024
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
MAX_ID_TOKEN_AGE = 3600
"""An ID token issued longer ago than this is refused even if it has not expired."""


class TokenInvalid(Exception):
    """Why a token was refused: ``reason`` is stable (audit), ``detail`` readable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _header(raw: str) -> dict[str, Any]:
    if len(raw) > MAX_TOKEN_CHARS:
        raise TokenInvalid("token_too_long", "the token is too long")
    parts = raw.split(".")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise TokenInvalid("malformed", "the token is not a signed JWT")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except ValueError as exc:
        raise TokenInvalid("malformed", "the token header is not JSON") from exc
    if not isinstance(header, dict):
        raise TokenInvalid("malformed", "the token header is not a JSON object")
    return header


async def verified_claims(
    raw: str, provider: OidcProviderSettings, metadata: ProviderMetadata
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``raw`` once its algorithm and signature check out."""
    header = _header(raw)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in provider.algorithms:
        raise TokenInvalid("algorithm", f"signing algorithm {str(alg)[:16]!r} is not allowed")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenInvalid("malformed", "the token's kid is not a string")
    keys = await metadata.keys(kid)
    if kid is not None and not any(k.kid == kid for k in keys.keys):
        raise TokenInvalid("unknown_kid", "the token is signed with a key the provider lacks")
    try:
        token = jwt.decode(raw, keys, algorithms=[alg])
    except JoseError as exc:
        raise TokenInvalid("bad_signature", "the token's signature does not verify") from exc
    except (ValueError, TypeError) as exc:
        raise TokenInvalid("malformed", "the token could not be decoded") from exc
    claims = token.claims
    if not isinstance(claims, dict):
        raise TokenInvalid("malformed", "the token's claims are not a JSON object")
    return header, claims


def _number(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalid(f"missing_{name}", f"the token lacks a numeric {name}")
    return int(value)


def check_common(
    claims: dict[str, Any], provider: OidcProviderSettings, now: int, *, expiring: bool = True
) -> None:
    """``iss``, ``aud``, ``azp``, ``iat`` (and ``exp`` when ``expiring``) of any of our tokens."""
    if claims.get("iss") != provider.issuer:
        raise TokenInvalid("issuer", "the token was issued by another issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if provider.client_id not in audiences:
        raise TokenInvalid("audience", "the token is not meant for this client")
    azp = claims.get("azp")
    if (azp is not None or len(audiences) > 1) and azp != provider.client_id:
        raise TokenInvalid("azp", "the token was issued to another party (azp)")
    skew = provider.clock_skew_seconds
    iat = _number(claims, "iat")
    if iat > now + skew:
        raise TokenInvalid("issued_in_future", "the token is issued in the future")
    if expiring:
        if _number(claims, "exp") <= now - skew:
            raise TokenInvalid("expired", "the token has expired")
        if iat < now - MAX_ID_TOKEN_AGE - skew:
            raise TokenInvalid("too_old", "the token was issued too long ago")
    sub = claims.get("sub")
    if sub is not None and (not isinstance(sub, str) or not 0 < len(sub) <= 255):
        raise TokenInvalid("subject", "the token's subject is not a usable string")


async def id_token_claims(
    raw: str,
    provider: OidcProviderSettings,
    metadata: ProviderMetadata,
    *,
    nonce: str,
    now: int,
) -> dict[str, Any]:
    """The claims of a valid ID token carrying our ``nonce``."""
    _, claims = await verified_claims(raw, provider, metadata)
    check_common(claims, provider, now)
    if not isinstance(claims.get("sub"), str):
        raise TokenInvalid("subject", "the ID token has no subject")
    seen = claims.get("nonce")
    if not isinstance(seen, str) or not hmac.compare_digest(seen.encode(), nonce.encode()):
        raise TokenInvalid("nonce", "the ID token does not carry this sign-in's nonce")
    return claims


async def logout_token_claims(
    raw: str, provider: OidcProviderSettings, metadata: ProviderMetadata, *, now: int
) -> dict[str, Any]:
    """The claims of a valid back-channel logout token (OIDC Back-Channel Logout 1.0, 2.6)."""
    header, claims = await verified_claims(raw, provider, metadata)
    typ = header.get("typ")
    if typ is not None and str(typ).lower() not in ("jwt", "logout+jwt", "application/logout+jwt"):
        raise TokenInvalid("typ", "the token is not a logout token (typ)")
    # A logout token may omit exp (section 2.4); when it carries one, it must hold.
    check_common(claims, provider, now, expiring="exp" in claims)
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise TokenInvalid("events", "the token carries no back-channel logout event")
    if "nonce" in claims:
        raise TokenInvalid("nonce", "a logout token must not carry a nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if sid is None and sub is None:
        raise TokenInvalid("no_subject", "the logout token names neither sid nor sub")
    if sid is not None and (not isinstance(sid, str) or not 0 < len(sid) <= 255):
        raise TokenInvalid("sid", "the logout token's sid is not a usable string")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 255:
        raise TokenInvalid("jti", "the logout token has no jti")
    return claims
