from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import Conflict, Unauthenticated
from lensguard.identity import apikeys
from lensguard.identity.apikeys import (
    MalformedApiKey,
    NewKey,
    generate,
    hash_secret,
    parse,
    secret_matches,
    verify_api_key,
)
from lensguard.protect.subkeys import Purpose, derive
from lensguard.store.api_keys import (
    create_api_key,
    get_api_key,
    list_api_keys,
    revoke_api_key,
    touch_last_used,
)
from lensguard.store.db import Database
from lensguard.store.users import create_user

PEPPER = derive("a test master secret that is long enough", Purpose.API_KEY_PEPPER)
OTHER_PEPPER = derive("another master secret, equally long!!!!", Purpose.API_KEY_PEPPER)
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=90)

KID = "abcdefghij12"
SEC = "A" * 43


def test_generate_round_trips_through_parse() -> None:
    # Many draws, so secrets containing '_' and '-' are exercised too.
    for _ in range(300):
        key = generate()
        assert key.presented == f"lg_{key.key_id}_{key.secret}"
        assert len(key.key_id) == 12
        assert set(key.key_id) <= set(string.ascii_lowercase + string.digits)
        assert len(key.secret) == 43
        assert parse(key.presented) == (key.key_id, key.secret)


def test_secret_with_underscores_splits_on_the_first_two_only() -> None:
    secret = "_a_b-" + "c" * 38
    assert parse(f"lg_{KID}_{secret}") == (KID, secret)


def test_generated_keys_differ() -> None:
    keys = {generate().presented for _ in range(100)}
    assert len(keys) == 100


def test_new_key_repr_hides_the_secret() -> None:
    key = generate()
    assert key.secret not in repr(key)
    assert repr(key) == f"NewKey(key_id={key.key_id!r})"


def test_longest_accepted_key_is_200_characters() -> None:
    secret = "B" * (200 - len(f"lg_{KID}_"))
    assert parse(f"lg_{KID}_{secret}") == (KID, secret)


ID_MESSAGE = "API key id must be 12 lowercase letters or digits"
SECRET_MESSAGE = "API key secret is too short or not base64url"
PREFIX_MESSAGE = "API key is not of the form lg_<id>_<secret>"


@pytest.mark.parametrize(
    ("presented", "message"),
    [
        ("", PREFIX_MESSAGE),
        ("lg", PREFIX_MESSAGE),
        ("lg_", PREFIX_MESSAGE),
        (f"lg_{KID}", PREFIX_MESSAGE),
        (f"lk_{KID}_{SEC}", PREFIX_MESSAGE),
        (f"LG_{KID}_{SEC}", PREFIX_MESSAGE),
        (f" lg_{KID}_{SEC}", PREFIX_MESSAGE),
        (f"Bearer lg_{KID}_{SEC}", PREFIX_MESSAGE),
        (f"{KID}_{SEC}", PREFIX_MESSAGE),
        (f"lg__{KID}_{SEC}", ID_MESSAGE),
        (f"lg_ABCDEFGHIJ12_{SEC}", ID_MESSAGE),
        (f"lg_abcdefghij1_{SEC}", ID_MESSAGE),
        (f"lg_abcdefghij123_{SEC}", ID_MESSAGE),
        (f"lg_abcdefghij1-_{SEC}", ID_MESSAGE),
        (f"lg_abcdéfghij1_{SEC}", ID_MESSAGE),
        (f"lg_abcdefghij\u0661\u0662_{SEC}", ID_MESSAGE),  # Arabic-Indic digits
        (f"lg_{KID}_", SECRET_MESSAGE),
        (f"lg_{KID}_{SEC[:42]}", SECRET_MESSAGE),
        (f"lg_{KID}_{SEC}=", SECRET_MESSAGE),
        (f"lg_{KID}_{SEC[:-1]}+", SECRET_MESSAGE),
        (f"lg_{KID}_{SEC[:-1]}/", SECRET_MESSAGE),
        (f"lg_{KID}_{SEC}\n", SECRET_MESSAGE),
        (f"lg_{KID}_{SEC} ", SECRET_MESSAGE),
        (f"lg_{KID}_{SEC[:20]} {SEC[:22]}", SECRET_MESSAGE),
        (f"lg_{KID}_{'B' * 185}", "API key is too long"),
        ("lg_" + "a" * 10_000, "API key is too long"),
    ],
)
def test_parse_refuses_malformed_keys(presented: str, message: str) -> None:
    with pytest.raises(MalformedApiKey) as caught:
        parse(presented)
    assert str(caught.value) == message


def test_malformed_api_key_is_a_value_error() -> None:
    assert issubclass(MalformedApiKey, ValueError)


def test_hash_is_hex_sha256_and_deterministic() -> None:
    digest = hash_secret(PEPPER, KID, SEC)
    assert len(digest) == 64
    assert set(digest) <= set(string.hexdigits.lower())
    assert hash_secret(PEPPER, KID, SEC) == digest


def test_hash_differs_per_pepper_key_id_and_secret() -> None:
    base = hash_secret(PEPPER, KID, SEC)
    assert hash_secret(OTHER_PEPPER, KID, SEC) != base
    assert hash_secret(PEPPER, "abcdefghij13", SEC) != base
    assert hash_secret(PEPPER, KID, "B" + SEC[1:]) != base


def test_hash_uses_the_api_key_pepper_not_another_purpose() -> None:
    master = "a test master secret that is long enough"
    wrap_key = derive(master, Purpose.WRAP)
    assert hash_secret(wrap_key, KID, SEC) != hash_secret(PEPPER, KID, SEC)


def test_short_pepper_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        hash_secret(b"too short", KID, SEC)


def test_secret_matches() -> None:
    stored = hash_secret(PEPPER, KID, SEC)
    assert secret_matches(PEPPER, KID, SEC, stored)
    assert not secret_matches(PEPPER, KID, "B" + SEC[1:], stored)
    assert not secret_matches(OTHER_PEPPER, KID, SEC, stored)
    assert not secret_matches(PEPPER, KID, SEC, stored.upper())
    assert not secret_matches(PEPPER, KID, SEC, "")


async def store_key(
    session: AsyncSession,
    *,
    name: str = "door camera",
    owner_user_id: str | None = None,
    expires_at: datetime = LATER,
    scopes: tuple[str, ...] = ("streams:read",),
) -> NewKey:
    key = generate()
    await create_api_key(
        session,
        key_id=key.key_id,
        name=name,
        owner_user_id=owner_user_id,
        secret_hash=hash_secret(PEPPER, key.key_id, key.secret),
        scopes=scopes,
        expires_at=expires_at,
    )
    return key


async def test_verify_accepts_a_valid_key(db: Database) -> None:
    async with db.transaction() as session:
        key = await store_key(session)
    async with db.transaction() as session:
        row = await verify_api_key(session, pepper=PEPPER, presented=key.presented, now=NOW)
    assert row.id == key.key_id
    assert row.scopes == ["streams:read"]
    # Recording use is the caller's job.
    assert row.last_used_at is None


REFUSALS = [
    "wrong_secret",
    "unknown_id",
    "revoked",
    "expired",
    "expires_now",
    "malformed",
    "wrong_pepper",
    "hash_from_another_key_id",
    "empty",
]


@pytest.mark.parametrize("case", REFUSALS)
async def test_verify_refuses_with_one_message(db: Database, case: str) -> None:
    pepper = PEPPER
    async with db.transaction() as session:
        good = await store_key(session)
        presented = good.presented
        if case == "wrong_secret":
            presented = f"lg_{good.key_id}_{generate().secret}"
        elif case == "unknown_id":
            presented = generate().presented
        elif case == "revoked":
            assert await revoke_api_key(session, key_id=good.key_id, at=NOW - timedelta(days=1))
        elif case == "expired":
            presented = (await store_key(session, expires_at=NOW - timedelta(seconds=1))).presented
        elif case == "expires_now":
            presented = (await store_key(session, expires_at=NOW)).presented
        elif case == "malformed":
            presented = presented[:-1] + "="
        elif case == "wrong_pepper":
            pepper = OTHER_PEPPER
        elif case == "hash_from_another_key_id":
            # A row whose hash was copied from another key id must not accept the secret.
            thief = "zzzzzzzzzzzz"
            await create_api_key(
                session,
                key_id=thief,
                name="copied",
                owner_user_id=None,
                secret_hash=hash_secret(PEPPER, good.key_id, good.secret),
                scopes=["*"],
                expires_at=LATER,
            )
            presented = f"lg_{thief}_{good.secret}"
        elif case == "empty":
            presented = ""
    async with db.transaction() as session:
        with pytest.raises(Unauthenticated) as caught:
            await verify_api_key(session, pepper=pepper, presented=presented, now=NOW)
    assert caught.value.detail == "invalid API key"
    assert str(caught.value) == "invalid API key"
    assert caught.value.extensions == {}
    assert caught.value.__cause__ is None


async def test_verify_computes_an_hmac_for_unknown_key_ids(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = apikeys.hash_secret

    def counting(pepper: bytes, key_id: str, secret: str) -> str:
        seen.append(key_id)
        return real(pepper, key_id, secret)

    monkeypatch.setattr(apikeys, "hash_secret", counting)
    unknown = generate()
    async with db.transaction() as session:
        with pytest.raises(Unauthenticated):
            await verify_api_key(session, pepper=PEPPER, presented=unknown.presented, now=NOW)
    assert seen == [unknown.key_id]


async def test_verify_sees_a_revocation_made_in_the_same_session(db: Database) -> None:
    async with db.transaction() as session:
        key = await store_key(session)
        await verify_api_key(session, pepper=PEPPER, presented=key.presented, now=NOW)
        assert await revoke_api_key(session, key_id=key.key_id, at=NOW)
        with pytest.raises(Unauthenticated, match=r"^invalid API key$"):
            await verify_api_key(session, pepper=PEPPER, presented=key.presented, now=NOW)


async def test_verify_refuses_a_naive_now(db: Database) -> None:
    async with db.transaction() as session:
        key = await store_key(session)
        with pytest.raises(ValueError, match="now must be timezone-aware"):
            await verify_api_key(
                session, pepper=PEPPER, presented=key.presented, now=NOW.replace(tzinfo=None)
            )


async def test_create_and_read_back(db: Database) -> None:
    async with db.transaction() as session:
        await create_api_key(
            session,
            key_id=KID,
            name="nvr uplink",
            owner_user_id=None,
            secret_hash="ab" * 32,
            scopes=["streams:read", "devices:list"],
            expires_at=LATER,
        )
    async with db.transaction() as session:
        row = await get_api_key(session, key_id=KID)
    assert row is not None
    assert row.name == "nvr uplink"
    assert row.owner_user_id is None
    assert row.secret_hash == "ab" * 32
    assert row.scopes == ["streams:read", "devices:list"]
    assert row.rate_limit_per_minute == 600
    assert row.expires_at == LATER
    assert row.created_at.tzinfo is not None
    assert row.last_used_at is None
    assert row.revoked_at is None


async def create_plain(session: AsyncSession, key_id: str, *, rate_limit: int = 600) -> None:
    await create_api_key(
        session,
        key_id=key_id,
        name="k",
        owner_user_id=None,
        secret_hash="0" * 64,
        scopes=[],
        expires_at=LATER,
        rate_limit_per_minute=rate_limit,
    )


async def test_duplicate_key_id_is_a_conflict_and_keeps_the_transaction(db: Database) -> None:
    async with db.transaction() as session:
        await create_plain(session, KID)
    async with db.transaction() as session:
        with pytest.raises(Conflict, match="'abcdefghij12' already exists"):
            await create_plain(session, KID)
        # The savepoint rolled back only the failed insert.
        await create_plain(session, "other0000000", rate_limit=5)
    async with db.transaction() as session:
        rows = await list_api_keys(session)
    assert sorted(r.id for r in rows) == [KID, "other0000000"]
    assert {r.id: r.rate_limit_per_minute for r in rows}["other0000000"] == 5


async def test_get_unknown_or_hostile_key_id_is_none(db: Database) -> None:
    async with db.transaction() as session:
        await store_key(session)
        assert await get_api_key(session, key_id="nosuchkey000") is None
        assert await get_api_key(session, key_id="x' OR '1'='1") is None


async def test_list_by_owner(db: Database) -> None:
    async with db.transaction() as session:
        ada = await create_user(session, username="ada", password_hash="h", role="operator")
        bob = await create_user(session, username="bob", password_hash="h", role="viewer")
        ada_keys = [
            (await store_key(session, name=f"ada {i}", owner_user_id=ada.id)).key_id
            for i in range(2)
        ]
        bob_key = (await store_key(session, name="bob", owner_user_id=bob.id)).key_id
        device_key = (await store_key(session, name="device")).key_id
    async with db.transaction() as session:
        everything = await list_api_keys(session)
        of_ada = await list_api_keys(session, owner_user_id=ada.id)
        of_bob = await list_api_keys(session, owner_user_id=bob.id)
        of_nobody = await list_api_keys(session, owner_user_id="0" * 32)
    assert sorted(k.id for k in everything) == sorted([*ada_keys, bob_key, device_key])
    assert sorted(k.id for k in of_ada) == sorted(ada_keys)
    assert [k.id for k in of_bob] == [bob_key]
    assert of_nobody == []


async def test_revoke_twice(db: Database) -> None:
    async with db.transaction() as session:
        key = await store_key(session)
    async with db.transaction() as session:
        assert await revoke_api_key(session, key_id=key.key_id, at=NOW) is True
    async with db.transaction() as session:
        assert await revoke_api_key(session, key_id=key.key_id, at=LATER) is False
        assert await revoke_api_key(session, key_id="nosuchkey000", at=NOW) is False
    async with db.transaction() as session:
        row = await get_api_key(session, key_id=key.key_id)
    assert row is not None
    # The second call did not overwrite the first revocation time.
    assert row.revoked_at == NOW


async def test_touch_last_used_only_moves_forward(db: Database) -> None:
    async with db.transaction() as session:
        key = await store_key(session)
    async with db.transaction() as session:
        await touch_last_used(session, key_id=key.key_id, at=NOW)
    async with db.transaction() as session:
        await touch_last_used(session, key_id=key.key_id, at=NOW - timedelta(minutes=5))
        await touch_last_used(session, key_id="nosuchkey000", at=NOW)
    async with db.transaction() as session:
        row = await get_api_key(session, key_id=key.key_id)
        assert row is not None and row.last_used_at == NOW
        await touch_last_used(session, key_id=key.key_id, at=LATER)
    async with db.transaction() as session:
        row = await get_api_key(session, key_id=key.key_id)
    assert row is not None and row.last_used_at == LATER
