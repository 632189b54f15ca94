"""Access tokens: short-lived JWTs (RFC 9068 profile) signed with rotating Ed25519 keys.

Verification trusts nothing in the token until the signature checks out against one of
our published keys: the unverified header only names the kid to look up, and headers
that point elsewhere for a key (``jku``, ``x5u``, ``x5c``, ``jwk``) are never read.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from lensguard.errors import Unauthenticated
from lensguard.identity.signing_keys import ALGORITHM, KEY_CACHE_SECONDS, KeyRing, OnRotated
from lensguard.identity.token_cache import DEFAULT_ENTRIES, Verified, VerifiedTokens
from lensguard.store.db import Database

HEADER_TYP = "at+jwt"
TOKEN_TYPE = "access"  # noqa: S105 - the typ claim value, not a secret
LEEWAY = 10
"""Seconds of clock skew tolerated between nodes on exp, nbf and iat."""
MAX_TOKEN_BYTES = 8 * 1024
RESERVED_CLAIMS = frozenset({"iss", "aud", "sub", "exp", "iat", "nbf", "jti", "typ", "sid", "knd"})
REQUIRED_CLAIMS = ("exp", "iat", "nbf", "iss", "aud", "sub", "jti", "typ", "knd")
WRAP_KEY_BYTES = 32
MAX_NUMERIC_DATE = 253_402_300_799
"""9999-12-31T23:59:59Z, the last instant ``datetime`` can hold."""
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def publication_window(lifetime: int) -> int:
    """Seconds a retired key stays published: its last token's life plus cache and skew."""
    # Another node may go on signing with a retired key until its cache expires.
    return lifetime + int(KEY_CACHE_SECONDS) + LEEWAY


class InvalidToken(Unauthenticated):
    """Raised when an access token is malformed, forged, expired or meant for someone else."""

    reason: str
    """The precise cause, for logs only: never sent to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__("invalid or expired access token")
        self.reason = reason


@dataclass(frozen=True)
class IssuedToken:
    """A freshly signed access token."""

    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class AccessClaims:
    """The verified contents of an access token."""

    subject: str
    session_id: str | None
    principal_kind: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    kid: str
    extra: dict[str, Any] = field(default_factory=dict)


def _reason_for(exc: jwt.PyJWTError) -> str:
    # Subclasses first: InvalidSignatureError is a DecodeError.
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing claim {exc.claim}"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "wrong audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "algorithm not allowed"
    if isinstance(exc, jwt.DecodeError):
        return "malformed token"
    return f"rejected by PyJWT ({type(exc).__name__})"


def _is_canonical_base64url(segment: str) -> bool:
    """Unpadded base64url that re-encodes to itself (RFC 7515 section 2)."""
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        return False
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return False
    # Set bits past the last byte spell the same bytes another way.
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") == segment


def _check_encoding(token: str) -> None:
    """Refuse a compact JWS whose segments are not canonical unpadded base64url.

    The decoder behind PyJWT forgives padding, stray characters and non-zero trailing
    bits, so one signed token would have many spellings: each would pass as a distinct
    string wherever tokens are compared or looked up as text.
    """
    parts = token.split(".")
    if len(parts) == 3 and not all(_is_canonical_base64url(part) for part in parts):
        raise InvalidToken("segment not canonical base64url")


def _check_header(header: dict[str, Any]) -> str:
    """The kid named by an unverified header that passes our rules."""
    # Exact match, no case folding: "none", "None", "HS256" all stop here.
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("algorithm not allowed")
    if header.get("typ") != HEADER_TYP:
        raise InvalidToken(f"header typ is not {HEADER_TYP}")
    if "crit" in header or "b64" in header:
        raise InvalidToken("critical header extensions are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("kid missing or empty")
    return kid


def _check_times(claims: dict[str, Any], now: float) -> None:
    for name in ("exp", "iat", "nbf"):
        # bool is an int and NaN compares false to everything: both would slip through.
        if type(claims[name]) is not int:
            raise InvalidToken(f"claim {name} is not an integer")
        if not 0 <= claims[name] <= MAX_NUMERIC_DATE:
            raise InvalidToken(f"claim {name} is out of range")
    if claims["exp"] <= now - LEEWAY:
        raise InvalidToken("expired")
    if claims["nbf"] > now + LEEWAY:
        raise InvalidToken("not yet valid (nbf)")
    if claims["iat"] > now + LEEWAY:
        raise InvalidToken("issued in the future (iat)")


def _check_profile(claims: dict[str, Any]) -> None:
    if claims["typ"] != TOKEN_TYPE:
        raise InvalidToken(f"typ claim is not {TOKEN_TYPE}")
    for name in ("sub", "jti", "knd"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise InvalidToken(f"claim {name} is not a non-empty string")
    # sid is always present; null marks a token minted for an API key, not a login.
    if "sid" not in claims:
        raise InvalidToken("missing claim sid")
    if claims["sid"] is not None and (not isinstance(claims["sid"], str) or not claims["sid"]):
        raise InvalidToken("claim sid is not a non-empty string or null")


class TokenService:
    """Issues and verifies access tokens for one issuer and audience."""

    def __init__(
        self,
        db: Database,
        *,
        wrap_key: bytes,
        issuer: str,
        audience: str,
        lifetime: int,
        clock: Callable[[], float] = time.time,
        cache_entries: int = DEFAULT_ENTRIES,
    ) -> None:
        if len(wrap_key) != WRAP_KEY_BYTES:
            raise ValueError(f"wrap_key must be {WRAP_KEY_BYTES} bytes")
        if lifetime <= 0:
            raise ValueError("lifetime must be positive")
        self._issuer = issuer
        self._audience = audience
        self._lifetime = lifetime
        self._clock = clock
        self._keys = KeyRing(
            db, wrap_key=wrap_key, window=publication_window(lifetime), clock=clock
        )
        self.verified = VerifiedTokens(cache_entries)
        """Tokens verified in full, until they expire (``identity/token_cache.py``)."""

    async def issue_access(
        self,
        *,
        subject: str,
        session_id: str | None,
        principal_kind: str,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> IssuedToken:
        """Sign an access token for ``subject`` with the active key."""
        extra = dict(extra_claims or {})
        clash = RESERVED_CLAIMS.intersection(extra)
        if clash:
            raise ValueError(f"extra claims may not set reserved claims: {sorted(clash)}")
        if not subject or not principal_kind or session_id == "":
            raise ValueError("subject, principal_kind and session_id must not be empty")
        key = await self._keys.signing_key()
        now = int(self._clock())
        jti = secrets.token_urlsafe(16)
        claims = {
            **extra,
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + self._lifetime,
            "jti": jti,
            "typ": TOKEN_TYPE,
            "sid": session_id,
            "knd": principal_kind,
        }
        token = jwt.encode(
            claims,
            key.private_key,
            algorithm=ALGORITHM,
            headers={"kid": key.kid, "typ": HEADER_TYP},
        )
        expires_at = datetime.fromtimestamp(now + self._lifetime, UTC)
        return IssuedToken(token=token, jti=jti, expires_at=expires_at)

    async def verify_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token; raises ``InvalidToken`` for anything else."""
        # Size first: nothing oversized reaches a parser. Non-ASCII is never base64url.
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or not token.isascii():
            raise InvalidToken("token too long or not ASCII")
        digest = self.verified.digest(token)
        hit = self.verified.get(digest)
        if hit is not None:
            # The signature was checked once; the key must still be published, and the
            # times still hold, at every use.
            if await self._keys.verification_key(hit.claims.kid) is None:
                self.verified.drop(digest)
                raise InvalidToken("unknown or unpublished kid")
            try:
                _check_times(hit.times, self._clock())
            except InvalidToken:
                self.verified.drop(digest)
                raise
            return hit.claims
        claims, times = await self._verify_in_full(token)
        self.verified.put(digest, Verified(claims, times))
        return claims

    async def _verify_in_full(self, token: str) -> tuple[AccessClaims, dict[str, Any]]:
        _check_encoding(token)
        try:
            kid = _check_header(jwt.get_unverified_header(token))
            key = await self._keys.verification_key(kid)
            if key is None:
                raise InvalidToken("unknown or unpublished kid")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # Times (with LEEWAY) are checked below against our clock: PyJWT only
                # knows the wall clock, and the service's clock must rule both ways.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(_reason_for(exc)) from None
        _check_times(claims, self._clock())
        _check_profile(claims)
        verified = AccessClaims(
            subject=claims["sub"],
            session_id=claims["sid"],
            principal_kind=claims["knd"],
            jti=claims["jti"],
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            kid=kid,
            extra={k: v for k, v in claims.items() if k not in RESERVED_CLAIMS},
        )
        return verified, {name: claims[name] for name in ("exp", "iat", "nbf")}

    async def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set of every published public key."""
        return {"keys": await self._keys.jwks()}

    async def rotate(self) -> str:
        """Start signing with a new key; returns its kid."""
        return await self._keys.rotate()

    async def rotate_if_older(self, max_age: float, *, then: OnRotated | None = None) -> str | None:
        """Rotate when the active key is ``max_age`` seconds old (``KeyRing.rotate_if_older``)."""
        return await self._keys.rotate_if_older(max_age, then=then)
