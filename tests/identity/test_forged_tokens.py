"""Forged and malformed access tokens: every one must be refused, for the intended reason.

Tokens that test claim or header rules are signed with our real, published key, so the
rule under test is the only thing wrong with them; a forger that got the signature
wrong by accident would otherwise make these tests pass for the wrong reason.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from lensguard.identity.signing_keys import private_key_of, public_jwk
from lensguard.identity.tokens import (
    LEEWAY,
    MAX_TOKEN_BYTES,
    InvalidToken,
    TokenService,
    publication_window,
)
from lensguard.store.db import Database
from lensguard.store.models import SigningKey
from tests.identity.token_support import (
    AUDIENCE,
    ISSUER,
    LIFETIME,
    WRAP_KEY,
    FakeClock,
    b64url,
    forge,
    make_service,
    segment,
)

ATTACKER_URL = "https://attacker.example/.well-known/jwks.json"
DROP = object()
"""Pass as an override to remove a member altogether."""


@dataclass
class Attacker:
    ed25519: Ed25519PrivateKey
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey


@pytest.fixture(scope="module")
def attacker() -> Attacker:
    return Attacker(
        ed25519=Ed25519PrivateKey.generate(),
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec=ec.generate_private_key(ec.SECP256R1()),
    )


@dataclass
class Ctx:
    """What a forger knows: our kid, our public key, the token shape; and our key for tests."""

    service: TokenService
    clock: FakeClock
    kid: str
    ours: Ed25519PrivateKey
    published_jwk: dict[str, Any]
    token: str
    attacker: Attacker

    def header(self, **overrides: Any) -> dict[str, Any]:
        return _merge({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid}, overrides)

    def payload(self, **overrides: Any) -> dict[str, Any]:
        now = int(self.clock())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "nbf": now,
            "exp": now + LIFETIME,
            "jti": secrets.token_urlsafe(16),
            "typ": "access",
            "sid": "sess-1",
            "knd": "user",
        }
        return _merge(claims, overrides)

    def signed(self, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """A token signed with our real key: only the given mutation is wrong with it."""
        return forge(header or self.header(), self.payload(**claims), self.ours.sign)

    def public_bytes(self, encoding: Encoding, fmt: PublicFormat) -> bytes:
        return self.ours.public_key().public_bytes(encoding, fmt)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **overrides}
    return {k: v for k, v in merged.items() if v is not DROP}


@pytest.fixture
async def ctx(db: Database, attacker: Attacker) -> Ctx:
    clock = FakeClock()
    service = make_service(db, clock)
    issued = await service.issue_access(
        subject="user-1", session_id="sess-1", principal_kind="user"
    )
    async with db.transaction() as session:
        row = (await session.execute(select(SigningKey))).scalar_one()
    jwks = await service.jwks()
    return Ctx(
        service=service,
        clock=clock,
        kid=row.kid,
        ours=private_key_of(row, wrap_key=WRAP_KEY),
        published_jwk=jwks["keys"][0],
        token=issued.token,
        attacker=attacker,
    )


def unsigned(alg: str, signature: bytes) -> Callable[[Ctx], str]:
    """An "alg: none" token in some casing, with a fixed (empty or junk) signature."""

    def build(c: Ctx) -> str:
        return forge(c.header(alg=alg), c.payload(), signature)

    return build


def hs(bits: int, key: Callable[[Ctx], bytes]) -> Callable[[Ctx], str]:
    """HMAC with our *public* key as the secret: the classic algorithm-confusion attack."""
    digest = {256: hashlib.sha256, 384: hashlib.sha384, 512: hashlib.sha512}[bits]

    def build(c: Ctx) -> str:
        return forge(
            c.header(alg=f"HS{bits}"),
            c.payload(),
            lambda data: hmac.new(key(c), data, digest).digest(),
        )

    return build


def PEM(c: Ctx) -> bytes:
    return c.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def DER(c: Ctx) -> bytes:
    return c.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def RAW(c: Ctx) -> bytes:
    return c.public_bytes(Encoding.Raw, PublicFormat.Raw)


def JWK_JSON(c: Ctx) -> bytes:
    return json.dumps(c.published_jwk).encode()


def attacker_signed(c: Ctx, **header: Any) -> str:
    """Signed by the attacker's own Ed25519 key, with whatever headers they like."""
    return forge(c.header(**header), c.payload(), c.attacker.ed25519.sign)


def tamper_sub(c: Ctx) -> str:
    header, _, signature = c.token.split(".")
    return f"{header}.{segment(c.payload(sub='admin'))}.{signature}"


def truncate_signature(c: Ctx) -> str:
    head, _, signature = c.token.rpartition(".")
    raw = jwt.utils.base64url_decode(signature)
    return f"{head}.{b64url(raw[:-1])}"


def oversized(c: Ctx) -> str:
    return c.signed(pad="x" * MAX_TOKEN_BYTES)


async def signed_by_rotated_out_key(c: Ctx) -> str:
    await c.service.rotate()
    c.clock.advance(publication_window(LIFETIME))
    # Fresh times: the retired key's lost publication is the only thing wrong.
    return c.signed()


async def kid_of_another_of_our_keys(c: Ctx) -> str:
    new_kid = await c.service.rotate()
    return c.signed(c.header(kid=new_kid))


ALG = "algorithm not allowed"
BAD_SIG = "bad signature"
UNKNOWN_KID = "unknown or unpublished kid"
NO_KID = "kid missing or empty"
MALFORMED = "malformed token"
HEADER_TYP = "header typ is not at+jwt"
CRIT = "critical header extensions are not supported"

Builder = Callable[[Ctx], "str | Awaitable[str]"]
CASES: dict[str, tuple[Builder, str]] = {
    **{
        f"alg {alg} with {sig_name} signature": (
            unsigned(alg, sig),
            ALG,
        )
        for alg in ("none", "None", "NONE", "nOnE")
        for sig_name, sig in (("empty", b""), ("garbage", b"garbage-signature"))
    },
    **{
        f"HS{bits} keyed with our public key as {form}": (hs(bits, key), ALG)
        for bits in (256, 384, 512)
        for form, key in (("PEM", PEM), ("DER", DER), ("raw bytes", RAW), ("JWK JSON", JWK_JSON))
    },
    "RS256 by an attacker key with our kid": (
        lambda c: jwt.encode(c.payload(), c.attacker.rsa, "RS256", headers=c.header(alg="RS256")),
        ALG,
    ),
    "ES256 by an attacker key with our kid": (
        lambda c: jwt.encode(c.payload(), c.attacker.ec, "ES256", headers=c.header(alg="ES256")),
        ALG,
    ),
    "alg eddsa in lower case": (lambda c: c.signed(c.header(alg="eddsa")), ALG),
    "alg Ed25519 (not the pinned name)": (lambda c: c.signed(c.header(alg="Ed25519")), ALG),
    "alg missing": (lambda c: c.signed(c.header(alg=DROP)), ALG),
    "wrong aud": (lambda c: c.signed(aud="another-service"), "wrong audience"),
    "aud list smuggling ours": (lambda c: c.signed(aud=[AUDIENCE, "x"]), "wrong audience"),
    "missing aud": (lambda c: c.signed(aud=DROP), "missing claim aud"),
    "wrong iss": (lambda c: c.signed(iss="https://attacker.example"), "wrong issuer"),
    "missing iss": (lambda c: c.signed(iss=DROP), "missing claim iss"),
    "typ claim refresh": (lambda c: c.signed(typ="refresh"), "typ claim is not access"),
    "typ claim id": (lambda c: c.signed(typ="id"), "typ claim is not access"),
    "missing typ claim": (lambda c: c.signed(typ=DROP), "missing claim typ"),
    "header typ JWT": (lambda c: c.signed(c.header(typ="JWT")), HEADER_TYP),
    "header typ missing": (lambda c: c.signed(c.header(typ=DROP)), HEADER_TYP),
    "exp in the past beyond leeway": (
        lambda c: c.signed(exp=int(c.clock()) - LEEWAY, iat=int(c.clock()) - LIFETIME),
        "expired",
    ),
    "missing exp": (lambda c: c.signed(exp=DROP), "missing claim exp"),
    "exp as a string": (lambda c: c.signed(exp="9999999999"), "claim exp is not an integer"),
    "exp as true": (lambda c: c.signed(exp=True), "claim exp is not an integer"),
    "exp NaN": (lambda c: c.signed(exp=float("nan")), "claim exp is not an integer"),
    "exp fractional": (lambda c: c.signed(exp=c.clock() + 60.5), "claim exp is not an integer"),
    "exp beyond year 9999": (lambda c: c.signed(exp=10**20), "claim exp is out of range"),
    "nbf in the future": (
        lambda c: c.signed(nbf=int(c.clock()) + LEEWAY + 1),
        "not yet valid (nbf)",
    ),
    "missing nbf": (lambda c: c.signed(nbf=DROP), "missing claim nbf"),
    "iat in the future": (
        lambda c: c.signed(iat=int(c.clock()) + LEEWAY + 1),
        "issued in the future (iat)",
    ),
    "missing iat": (lambda c: c.signed(iat=DROP), "missing claim iat"),
    "missing jti": (lambda c: c.signed(jti=DROP), "missing claim jti"),
    "missing sub": (lambda c: c.signed(sub=DROP), "missing claim sub"),
    "empty sub": (lambda c: c.signed(sub=""), "claim sub is not a non-empty string"),
    "numeric sub": (lambda c: c.signed(sub=42), "rejected by PyJWT (InvalidSubjectError)"),
    "missing knd": (lambda c: c.signed(knd=DROP), "missing claim knd"),
    "missing sid": (lambda c: c.signed(sid=DROP), "missing claim sid"),
    "numeric sid": (lambda c: c.signed(sid=7), "claim sid is not a non-empty string or null"),
    "kid with path traversal": (
        lambda c: c.signed(c.header(kid="../../etc/passwd")),
        UNKNOWN_KID,
    ),
    "kid with SQL": (lambda c: c.signed(c.header(kid="' OR '1'='1")), UNKNOWN_KID),
    "empty kid": (lambda c: c.signed(c.header(kid="")), NO_KID),
    "missing kid": (lambda c: c.signed(c.header(kid=DROP)), NO_KID),
    "unknown kid": (lambda c: c.signed(c.header(kid="k" + secrets.token_urlsafe(12))), UNKNOWN_KID),
    "numeric kid": (
        lambda c: c.signed(c.header(kid=1)),
        "rejected by PyJWT (InvalidTokenError)",
    ),
    "kid of another of our keys": (kid_of_another_of_our_keys, BAD_SIG),
    "jku to attacker, unknown kid": (
        lambda c: attacker_signed(c, jku=ATTACKER_URL, kid="attacker-1"),
        UNKNOWN_KID,
    ),
    "jku to attacker, our kid": (lambda c: attacker_signed(c, jku=ATTACKER_URL), BAD_SIG),
    "x5u to attacker, unknown kid": (
        lambda c: attacker_signed(c, x5u=ATTACKER_URL, kid="attacker-1"),
        UNKNOWN_KID,
    ),
    "x5u to attacker, our kid": (lambda c: attacker_signed(c, x5u=ATTACKER_URL), BAD_SIG),
    "x5c chain of the attacker": (
        lambda c: attacker_signed(c, x5c=[b64url(b"attacker certificate")]),
        BAD_SIG,
    ),
    "embedded jwk of the attacker, our kid": (
        lambda c: attacker_signed(c, jwk=public_jwk(c.attacker.ed25519.public_key(), kid=c.kid)),
        BAD_SIG,
    ),
    "embedded jwk of the attacker, no kid": (
        lambda c: attacker_signed(
            c, kid=DROP, jwk=public_jwk(c.attacker.ed25519.public_key(), kid="a")
        ),
        NO_KID,
    ),
    "payload tampered after signing": (tamper_sub, BAD_SIG),
    "truncated signature": (truncate_signature, BAD_SIG),
    "empty signature": (lambda c: c.token.rpartition(".")[0] + ".", BAD_SIG),
    "fresh Ed25519 key never published, our kid": (
        lambda c: forge(c.header(), c.payload(), Ed25519PrivateKey.generate().sign),
        BAD_SIG,
    ),
    "rotated-out key past its publication window": (signed_by_rotated_out_key, UNKNOWN_KID),
    "crit header naming an unknown extension": (
        lambda c: c.signed(c.header(crit=["exp"])),
        "rejected by PyJWT (InvalidTokenError)",
    ),
    "crit b64 with b64 true": (lambda c: c.signed(c.header(crit=["b64"], b64=True)), CRIT),
    "b64 false (detached payload)": (
        lambda c: c.signed(c.header(crit=["b64"], b64=False)),
        MALFORMED,
    ),
    "random opaque string": (lambda c: secrets.token_hex(32), MALFORMED),
    "refresh-token-shaped string": (lambda c: secrets.token_urlsafe(32), MALFORMED),
    "API-key-shaped string": (lambda c: "lg_abcd1234_" + secrets.token_urlsafe(32), MALFORMED),
    "JWE-shaped five segments": (lambda c: ".".join(["eyJhbGciOiJkaXIifQ"] * 5), MALFORMED),
    "two segments": (lambda c: c.token.rpartition(".")[0], MALFORMED),
    "header is a JSON array": (
        lambda c: f"{b64url(b'[1]')}.{c.token.split('.')[1]}.{c.token.split('.')[2]}",
        MALFORMED,
    ),
    "empty string": (lambda c: "", MALFORMED),
    "oversized token": (oversized, "token too long or not ASCII"),
    "non-ASCII token": (lambda c: c.token + "\u00e9", "token too long or not ASCII"),
}


async def test_the_forger_makes_valid_tokens_when_nothing_is_wrong(ctx: Ctx) -> None:
    claims = await ctx.service.verify_access(ctx.signed())
    assert (claims.subject, claims.kid) == ("user-1", ctx.kid)
    # The untouched issued token verifies too: each case below changes exactly one thing.
    assert (await ctx.service.verify_access(ctx.token)).subject == "user-1"


def test_the_suite_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("build", "reason"), CASES.values(), ids=list(CASES))
async def test_forged_token_is_refused(ctx: Ctx, build: Builder, reason: str) -> None:
    token = build(ctx)
    if inspect.isawaitable(token):
        token = await token
    assert isinstance(token, str)
    with pytest.raises(InvalidToken) as caught:
        await ctx.service.verify_access(token)
    assert caught.value.reason == reason
    assert caught.value.detail == "invalid or expired access token"


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _respell(token: str, index: int, change: Callable[[str], str]) -> str:
    parts = token.split(".")
    parts[index] = change(parts[index])
    return ".".join(parts)


def _trailing_bits_set(segment: str) -> str:
    # 64 signature bytes fill 86 characters with 4 bits to spare: set the lowest of them.
    return segment[:-1] + ALPHABET[ALPHABET.index(segment[-1]) | 1]


RESPELLINGS: dict[str, Callable[[str], str]] = {
    "signature with == padding": lambda t: t + "==",
    "signature with = padding": lambda t: t + "=",
    "header with = padding": lambda t: _respell(t, 0, lambda s: s + "="),
    "payload with = padding": lambda t: _respell(t, 1, lambda s: s + "="),
    "signature with spare bits set": lambda t: _respell(t, 2, _trailing_bits_set),
    "signature with a stray character": lambda t: _respell(t, 2, lambda s: s[:8] + "!" + s[8:]),
}


@pytest.mark.parametrize("change", RESPELLINGS.values(), ids=list(RESPELLINGS))
async def test_jwt_with_padded_signature_is_refused(ctx: Ctx, change: Callable[[str], str]) -> None:
    # The same signed bytes in another spelling: RFC 7515 allows one, unpadded base64url.
    respelled = change(ctx.token)
    assert respelled != ctx.token
    with pytest.raises(InvalidToken) as caught:
        await ctx.service.verify_access(respelled)
    assert caught.value.reason == "segment not canonical base64url"
