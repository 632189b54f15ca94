"""The purpose keys a rotation keeps, and the check that the master secret is the right one.

API-key and recovery-code hashes, refresh-token hashes, the audit chain's HMAC and its
checkpoint signatures were made with keys derived from the master secret. Their data
cannot be re-wrapped, so a rotation keeps those keys: it stores them wrapped under the
new master (``secret_kept_keys``) and every start unwraps them from there. Until the
first rotation the table is empty and they are derived as before.

Loading also refuses to start on a secret the database does not expect: a rotation
still running, or a secret other than the one the last rotation moved to.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import ConfigurationError
from lensguard.keyring.models import KeptKey, SecretRotation
from lensguard.protect.subkeys import KEPT_PURPOSES, Purpose, derive
from lensguard.protect.wrap import UnwrapError, unwrap, wrap
from lensguard.store.db import Database, is_sqlite

_AAD_LABEL = "lensguard/kept-key"
FINGERPRINT_CHARS = 32
Probe = Callable[[AsyncSession], Awaitable[None]]
"""A check that the secret opens what is stored; raises ``ConfigurationError`` if not."""
HOW_TO_RESUME = (
    "run `lensguard secret rotate` again with the same secrets to finish it "
    "(see `lensguard secret rotate --help`)"
)


def fingerprint(master: str) -> str:
    """A one-way name of ``master`` (hex); the database stores this, never the secret."""
    return derive(master, Purpose.FINGERPRINT).hex()[:FINGERPRINT_CHARS]


def is_secret(master: str, stored_fingerprint: str) -> bool:
    """Whether ``master`` is the secret named by ``stored_fingerprint`` (constant time)."""
    return hmac.compare_digest(fingerprint(master), stored_fingerprint)


def _aad(purpose: Purpose) -> bytes:
    return f"{_AAD_LABEL}|{purpose.value}".encode()


def wrap_kept(master: str, purpose: Purpose, key: bytes) -> bytes:
    """``key`` of ``purpose`` wrapped for storage under ``master``."""
    return wrap(derive(master, Purpose.KEPT_KEYS), key, aad=_aad(purpose))


def unwrap_kept(master: str, purpose: Purpose, wrapped: bytes) -> bytes:
    """The key inside ``wrapped``; raises ``UnwrapError`` under another master."""
    return unwrap(derive(master, Purpose.KEPT_KEYS), wrapped, aad=_aad(purpose))


def derived_keys(master: str) -> dict[Purpose, bytes]:
    """The kept purposes' keys as derived from ``master`` (before any rotation)."""
    return {purpose: derive(master, purpose) for purpose in KEPT_PURPOSES}


async def latest_rotation(session: AsyncSession) -> SecretRotation | None:
    """The most recent rotation, running or done; None when none ever ran."""
    result = await session.execute(
        select(SecretRotation).order_by(SecretRotation.id.desc()).limit(1)
    )
    return result.scalar_one_or_none()


async def stored_keys(session: AsyncSession, master: str) -> dict[Purpose, bytes] | None:
    """The kept keys stored under ``master``; None when none are stored yet.

    Raises ``UnwrapError`` when they are stored under another secret.
    """
    rows = (await session.execute(select(KeptKey))).scalars().all()
    if not rows:
        return None
    by_purpose = {row.purpose: row.wrapped for row in rows}
    keys = {}
    for purpose in KEPT_PURPOSES:
        wrapped = by_purpose.get(purpose.value)
        if wrapped is None:
            raise UnwrapError(f"the kept key for {purpose.value} is missing")
        keys[purpose] = unwrap_kept(master, purpose, wrapped)
    return keys


async def purpose_keys(session: AsyncSession, master: str) -> dict[Purpose, bytes]:
    """The kept purposes' keys for a node configured with ``master``.

    Raises ``ConfigurationError``, saying what to do, when a rotation is unfinished or
    ``master`` is not the secret the stored secrets are under.
    """
    rotation = await latest_rotation(session)
    if rotation is not None and rotation.state == "running":
        raise ConfigurationError(f"a secret rotation is unfinished: {HOW_TO_RESUME}")
    if rotation is not None and not is_secret(master, rotation.new_fingerprint):
        raise ConfigurationError(
            "secret_key is not the secret the stored secrets were last rotated to; "
            "set LENSGUARD_SECRET_KEY to that one (`lensguard secret rotate --status` "
            "tells whether a secret is the right one)"
        )
    try:
        stored = await stored_keys(session, master)
    except UnwrapError:
        raise ConfigurationError(
            "secret_key does not open the stored purpose keys; is it the current secret?"
        ) from None
    return derived_keys(master) if stored is None else stored


async def _load(url: str, master: str, probe: Probe | None) -> dict[Purpose, bytes]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            present = await conn.run_sync(
                lambda sync: inspect(sync).has_table(SecretRotation.__tablename__)
            )
        if not present:
            # A schema older than rotation: nothing can have been rotated yet.
            return derived_keys(master)
        async with db.sessions() as session:
            keys = await purpose_keys(session, master)
            if probe is not None:
                await probe(session)
            return keys
    finally:
        await db.dispose()


def _no_database_yet(url: str) -> bool:
    parsed = make_url(url)
    name = parsed.database
    if not is_sqlite(url) or not name or name == ":memory:" or name.startswith("file:"):
        return False
    return not Path(name).is_file()


def load_purpose_keys(
    url: str, master: str, *, probe: Probe | None = None
) -> Mapping[Purpose, bytes]:
    """``purpose_keys`` for the database at ``url``, from synchronous code.

    ``probe`` then checks that ``master`` opens a stored secret: before any rotation
    that is what tells a node given the next secret too early (its audit entries
    would be chained under the wrong key) from one given the right one.

    Runs on its own thread and event loop with its own engine, so it can be called
    while another loop runs (an app built inside a test or a server's start-up).
    A SQLite file that does not exist yet, or a schema without the rotation tables,
    holds nothing rotated: the keys are derived from ``master``.
    """
    if _no_database_yet(url):
        return derived_keys(master)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kept-keys") as pool:
        try:
            return pool.submit(asyncio.run, _load(url, master, probe)).result()
        except (OSError, sqlalchemy_exc.OperationalError, sqlalchemy_exc.InterfaceError) as exc:
            # Which keys this node holds is in the database (after a rotation they are no
            # longer the ones the secret derives): without it the node cannot start.
            where = make_url(url).render_as_string(hide_password=True)
            raise ConfigurationError(
                f"the database at {where} cannot be reached to load the stored keys "
                f"({type(exc).__name__}); start it or fix database.url, then start again"
            ) from None
