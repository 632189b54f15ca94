from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from lensguard.errors import ConfigurationError
from lensguard.identity.signing_keys import (
    ALGORITHM,
    active_signing_key,
    create_signing_key,
    is_published,
    list_signing_keys,
    new_kid,
    private_key_of,
    public_jwk,
    public_key_from_jwk,
    published_signing_keys,
    rotate_signing_key,
)
from lensguard.protect.wrap import UnwrapError, unwrap
from lensguard.store.db import Database
from lensguard.store.models import SigningKey
from tests.identity.token_support import OTHER_WRAP_KEY, WRAP_KEY, b64url

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
WINDOW = 1_000


def test_kids_are_random_and_url_safe() -> None:
    kids = {new_kid() for _ in range(200)}
    assert len(kids) == 200
    alphabet = set(string.ascii_letters + string.digits + "-_")
    assert all(len(k) == 16 and set(k) <= alphabet for k in kids)


def test_public_jwk_round_trips_and_holds_no_private_member() -> None:
    key = Ed25519PrivateKey.generate()
    jwk = public_jwk(key.public_key(), kid="k1")
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
        "kid": "k1",
        "alg": "EdDSA",
    }
    assert public_key_from_jwk(jwk) == key.public_key()


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "OKP", "crv": "Ed448", "x": "AAAA"},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "OKP", "crv": "Ed25519", "x": "c2hvcnQ"},
        {"kty": "OKP", "crv": "Ed25519", "x": "!!!not base64!!!"},
    ],
)
def test_public_key_from_jwk_refuses_anything_but_ed25519(jwk: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        public_key_from_jwk(jwk)


async def test_private_key_is_stored_wrapped_not_as_plaintext_pkcs8(db: Database) -> None:
    async with db.transaction() as session:
        row = await create_signing_key(session, wrap_key=WRAP_KEY, now=T0)
    async with db.transaction() as session:
        stored = await session.get(SigningKey, row.kid)
    assert stored is not None
    private_key = private_key_of(stored, wrap_key=WRAP_KEY)
    pkcs8 = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    assert pkcs8 not in stored.private_key_wrapped
    assert raw not in stored.private_key_wrapped
    assert stored.algorithm == ALGORITHM
    assert "d" not in stored.public_jwk
    assert public_key_from_jwk(stored.public_jwk) == private_key.public_key()
    assert stored.created_at == T0 and stored.retired_at is None


async def test_unwrapping_under_a_wrong_key_or_another_kid_fails(db: Database) -> None:
    async with db.transaction() as session:
        row = await create_signing_key(session, wrap_key=WRAP_KEY, now=T0)
    with pytest.raises(UnwrapError, match="does not authenticate"):
        private_key_of(row, wrap_key=OTHER_WRAP_KEY)
    # The kid is bound in as associated data: the blob does not open under another row.
    with pytest.raises(UnwrapError, match="does not authenticate"):
        unwrap(WRAP_KEY, row.private_key_wrapped, aad=b"signing-key:someone-else")


async def test_active_key_is_the_newest_unretired_one(db: Database) -> None:
    async with db.transaction() as session:
        assert await active_signing_key(session) is None
        first = await create_signing_key(session, wrap_key=WRAP_KEY, now=T0)
        second = await create_signing_key(session, wrap_key=WRAP_KEY, now=T0 + timedelta(seconds=1))
    async with db.transaction() as session:
        active = await active_signing_key(session)
    assert active is not None and active.kid == second.kid != first.kid


async def test_rotate_retires_the_active_key_and_returns_the_new_kid(db: Database) -> None:
    async with db.transaction() as session:
        old = await create_signing_key(session, wrap_key=WRAP_KEY, now=T0)
    later = T0 + timedelta(hours=1)
    async with db.transaction() as session:
        kid = await rotate_signing_key(session, wrap_key=WRAP_KEY, now=later)
    async with db.transaction() as session:
        active = await active_signing_key(session)
        retired = await session.get(SigningKey, old.kid)
        rows = await list_signing_keys(session)
    assert active is not None and active.kid == kid != old.kid
    assert retired is not None and retired.retired_at == later
    assert [r.kid for r in rows] == [kid, old.kid]


async def test_rotate_under_another_master_secret_is_refused(db: Database) -> None:
    async with db.transaction() as session:
        old = await create_signing_key(session, wrap_key=WRAP_KEY, now=T0)
    with pytest.raises(ConfigurationError, match="differs from the one that wrapped"):
        async with db.transaction() as session:
            await rotate_signing_key(session, wrap_key=OTHER_WRAP_KEY, now=T0)
    async with db.transaction() as session:
        rows = await list_signing_keys(session)
    assert [(r.kid, r.retired_at) for r in rows] == [(old.kid, None)]


async def test_rotate_on_an_empty_table_just_creates_a_key(db: Database) -> None:
    async with db.transaction() as session:
        kid = await rotate_signing_key(session, wrap_key=WRAP_KEY, now=T0)
        rows = await list_signing_keys(session)
    assert [(r.kid, r.retired_at) for r in rows] == [(kid, None)]


async def test_retired_keys_stay_published_for_the_window_only(db: Database) -> None:
    async with db.transaction() as session:
        old = await create_signing_key(session, wrap_key=WRAP_KEY, now=T0)
        new = await rotate_signing_key(session, wrap_key=WRAP_KEY, now=T0)
    inside = T0 + timedelta(seconds=WINDOW - 1)
    outside = T0 + timedelta(seconds=WINDOW)
    async with db.transaction() as session:
        during = await published_signing_keys(session, window=WINDOW, now=inside)
        after = await published_signing_keys(session, window=WINDOW, now=outside)
        rows = {r.kid: r for r in await list_signing_keys(session)}
    assert {r.kid for r in during} == {old.kid, new}
    assert [r.kid for r in after] == [new]
    assert is_published(rows[old.kid], window=WINDOW, now=inside)
    assert not is_published(rows[old.kid], window=WINDOW, now=outside)
    assert is_published(rows[new], window=WINDOW, now=outside + timedelta(days=365))
