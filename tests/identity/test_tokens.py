from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import event, select

from lensguard.errors import Unauthenticated
from lensguard.identity.signing_keys import (
    KEY_CACHE_SECONDS,
    MISS_RELOAD_SECONDS,
    private_key_of,
    rotate_signing_key,
)
from lensguard.identity.tokens import (
    LEEWAY,
    RESERVED_CLAIMS,
    InvalidToken,
    TokenService,
    publication_window,
)
from lensguard.protect.wrap import UnwrapError
from lensguard.store.db import Database
from lensguard.store.models import SigningKey
from tests.identity.token_support import (
    AUDIENCE,
    ISSUER,
    LIFETIME,
    OTHER_WRAP_KEY,
    START,
    WRAP_KEY,
    FakeClock,
    make_service,
    segment,
    split,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(db: Database, clock: FakeClock) -> TokenService:
    return make_service(db, clock)


async def rejection(service: TokenService, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        await service.verify_access(token)
    return caught.value


@contextmanager
def signing_key_queries(db: Database) -> Iterator[list[str]]:
    """Every SQL statement that reads the signing_keys table while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "signing_keys" in statement:
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_issued_token_round_trips_its_claims(service: TokenService) -> None:
    issued = await service.issue_access(
        subject="user-1", session_id="sess-1", principal_kind="user", extra_claims={"role": "admin"}
    )
    claims = await service.verify_access(issued.token)
    assert claims.subject == "user-1"
    assert claims.session_id == "sess-1"
    assert claims.principal_kind == "user"
    assert claims.jti == issued.jti
    assert claims.issued_at == datetime.fromtimestamp(START, UTC)
    assert claims.expires_at == issued.expires_at == datetime.fromtimestamp(START + LIFETIME, UTC)
    assert claims.extra == {"role": "admin"}
    header, payload, _ = split(issued.token)
    assert header == {"alg": "EdDSA", "kid": claims.kid, "typ": "at+jwt"}
    assert payload == {
        "role": "admin",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": int(START),
        "nbf": int(START),
        "exp": int(START) + LIFETIME,
        "jti": issued.jti,
        "typ": "access",
        "sid": "sess-1",
        "knd": "user",
    }


async def test_api_key_tokens_carry_a_null_session(service: TokenService) -> None:
    issued = await service.issue_access(subject="dev-9", session_id=None, principal_kind="device")
    claims = await service.verify_access(issued.token)
    assert (claims.session_id, claims.principal_kind, claims.extra) == (None, "device", {})
    assert split(issued.token)[1]["sid"] is None


async def test_each_token_gets_its_own_jti(service: TokenService) -> None:
    jtis = {
        (await service.issue_access(subject="u", session_id="s", principal_kind="user")).jti
        for _ in range(20)
    }
    assert len(jtis) == 20


@pytest.mark.parametrize("claim", sorted(RESERVED_CLAIMS))
async def test_extra_claims_cannot_override_reserved_ones(
    service: TokenService, claim: str
) -> None:
    with pytest.raises(ValueError, match=f"reserved claims: \\['{claim}'\\]"):
        await service.issue_access(
            subject="u", session_id="s", principal_kind="user", extra_claims={claim: "x"}
        )


async def test_empty_subject_or_kind_is_a_programming_error(service: TokenService) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        await service.issue_access(subject="", session_id="s", principal_kind="user")
    with pytest.raises(ValueError, match="must not be empty"):
        await service.issue_access(subject="u", session_id="s", principal_kind="")


def test_constructor_refuses_a_short_wrap_key_or_no_lifetime(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    with pytest.raises(ValueError, match="wrap_key must be 32 bytes"):
        TokenService(db, wrap_key=b"short", issuer=ISSUER, audience=AUDIENCE, lifetime=60)
    with pytest.raises(ValueError, match="lifetime must be positive"):
        TokenService(db, wrap_key=WRAP_KEY, issuer=ISSUER, audience=AUDIENCE, lifetime=0)


async def test_first_issue_creates_one_wrapped_key(db: Database, service: TokenService) -> None:
    issued = await service.issue_access(subject="u", session_id="s", principal_kind="user")
    async with db.transaction() as session:
        rows = (await session.execute(select(SigningKey))).scalars().all()
    assert [r.kid for r in rows] == [split(issued.token)[0]["kid"]]
    private_key = private_key_of(rows[0], wrap_key=WRAP_KEY)
    pkcs8 = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    assert pkcs8 not in rows[0].private_key_wrapped
    with pytest.raises(UnwrapError):
        private_key_of(rows[0], wrap_key=OTHER_WRAP_KEY)


async def test_a_node_with_the_wrong_master_secret_cannot_sign(
    db: Database, service: TokenService, clock: FakeClock
) -> None:
    await service.issue_access(subject="u", session_id="s", principal_kind="user")
    stranger = TokenService(
        db, wrap_key=OTHER_WRAP_KEY, issuer=ISSUER, audience=AUDIENCE, lifetime=60, clock=clock
    )
    with pytest.raises(UnwrapError):
        await stranger.issue_access(subject="u", session_id="s", principal_kind="user")


async def test_expiry_honours_the_leeway_and_no_more(
    service: TokenService, clock: FakeClock
) -> None:
    token = (await service.issue_access(subject="u", session_id="s", principal_kind="user")).token
    clock.advance(LIFETIME + LEEWAY - 1)
    assert (await service.verify_access(token)).subject == "u"
    clock.advance(1)
    assert (await rejection(service, token)).reason == "expired"


async def test_invalid_token_is_generic_outside_and_precise_in_logs(service: TokenService) -> None:
    token = (await service.issue_access(subject="u", session_id="s", principal_kind="user")).token
    exc = await rejection(service, token[:-8] + "AAAAAAAA")
    assert isinstance(exc, Unauthenticated)
    assert exc.status == 401
    assert exc.detail == str(exc) == "invalid or expired access token"
    assert exc.extensions == {}
    assert exc.reason == "bad signature"
    assert token[:20] not in repr(exc) + exc.reason
    assert exc.__cause__ is None and exc.__suppress_context__


async def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(
    service: TokenService, clock: FakeClock
) -> None:
    old = await service.issue_access(subject="u", session_id="s", principal_kind="user")
    old_kid = split(old.token)[0]["kid"]
    new_kid = await service.rotate()
    assert new_kid != old_kid
    clock.advance(LIFETIME - 1)
    assert (await service.verify_access(old.token)).kid == old_kid
    fresh = await service.issue_access(subject="u", session_id="s", principal_kind="user")
    assert split(fresh.token)[0]["kid"] == new_kid
    assert (await service.verify_access(fresh.token)).kid == new_kid


async def test_jwks_publishes_both_keys_after_rotation_then_drops_the_old(
    service: TokenService, clock: FakeClock
) -> None:
    token = (await service.issue_access(subject="u", session_id="s", principal_kind="user")).token
    old_kid = split(token)[0]["kid"]
    new_kid = await service.rotate()
    jwks = await service.jwks()
    assert sorted(k["kid"] for k in jwks["keys"]) == sorted([old_kid, new_kid])
    for key in jwks["keys"]:
        assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == (
            "OKP",
            "Ed25519",
            "EdDSA",
            "sig",
        )
    # An outside verifier holding only the JWKS can check our tokens.
    published = jwt.PyJWKSet.from_dict(jwks)[old_kid]
    decoded = jwt.decode(
        token,
        published,
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        # The fake clock runs years ahead of the wall clock PyJWT reads.
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert decoded["sub"] == "u"
    clock.advance(publication_window(LIFETIME))
    assert [k["kid"] for k in (await service.jwks())["keys"]] == [new_kid]
    assert "unpublished" in (await rejection(service, token)).reason


async def test_no_private_member_ever_appears_in_the_jwks(service: TokenService) -> None:
    for _ in range(3):
        await service.rotate()
    text = repr(await service.jwks())
    assert "'d'" not in text and "PRIVATE" not in text


async def test_another_node_verifies_after_a_rotation_by_the_first(
    db: Database, clock: FakeClock
) -> None:
    node_a, node_b = make_service(db, clock), make_service(db, clock)
    before = await node_a.issue_access(subject="u", session_id="s", principal_kind="user")
    assert (await node_b.verify_access(before.token)).subject == "u"
    new_kid = await node_a.rotate()
    after = await node_a.issue_access(subject="u", session_id="s", principal_kind="user")
    # B has never seen the new kid: one reload from the database picks it up at once.
    assert (await node_b.verify_access(after.token)).kid == new_kid
    assert (await node_b.verify_access(before.token)).subject == "u"


async def test_another_node_signs_with_the_new_key_once_its_cache_expires(
    db: Database, clock: FakeClock
) -> None:
    node_a, node_b = make_service(db, clock), make_service(db, clock)
    first = await node_b.issue_access(subject="u", session_id="s", principal_kind="user")
    old_kid = split(first.token)[0]["kid"]
    new_kid = await node_a.rotate()
    clock.advance(KEY_CACHE_SECONDS - 1)
    stale = await node_b.issue_access(subject="u", session_id="s", principal_kind="user")
    assert split(stale.token)[0]["kid"] == old_kid
    clock.advance(1)
    current = await node_b.issue_access(subject="u", session_id="s", principal_kind="user")
    assert split(current.token)[0]["kid"] == new_kid
    # The last token B signed with the retired key still lives its full life: the
    # publication window covers the time other nodes may keep signing with it.
    clock.advance(LIFETIME - 1)
    assert (await node_a.verify_access(stale.token)).kid == old_kid


async def test_a_rotation_from_the_cli_path_reaches_running_services(
    db: Database, service: TokenService, clock: FakeClock
) -> None:
    await service.issue_access(subject="u", session_id="s", principal_kind="user")
    async with db.transaction() as session:
        new_kid = await rotate_signing_key(
            session, wrap_key=WRAP_KEY, now=datetime.fromtimestamp(clock(), UTC)
        )
    clock.advance(KEY_CACHE_SECONDS)
    issued = await service.issue_access(subject="u", session_id="s", principal_kind="user")
    assert (await service.verify_access(issued.token)).kid == new_kid


async def test_cached_keys_verify_without_touching_the_database(
    db: Database, service: TokenService
) -> None:
    tokens = [
        (await service.issue_access(subject=f"u{i}", session_id="s", principal_kind="user")).token
        for i in range(5)
    ]
    await service.verify_access(tokens[0])
    with signing_key_queries(db) as queries:
        for token in tokens * 4:
            await service.verify_access(token)
    assert queries == []


async def test_a_flood_of_unknown_kids_reloads_at_most_once_per_interval(
    db: Database, service: TokenService, clock: FakeClock
) -> None:
    token = (await service.issue_access(subject="u", session_id="s", principal_kind="user")).token
    await service.verify_access(token)
    _, payload, signature = token.split(".")

    def with_kid(kid: str) -> str:
        return ".".join(
            [segment({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}), payload, signature]
        )

    with signing_key_queries(db) as queries:
        for _ in range(100):
            exc = await rejection(service, with_kid(secrets.token_urlsafe(12)))
            assert exc.reason == "unknown or unpublished kid"
        assert len(queries) == 1
        clock.advance(MISS_RELOAD_SECONDS)
        for _ in range(100):
            await rejection(service, with_kid(secrets.token_urlsafe(12)))
        assert len(queries) == 2
