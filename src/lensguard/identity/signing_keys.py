"""Token-signing keys: Ed25519 pairs in ``signing_keys`` and an in-memory ring over them.

The private half is stored only wrapped (AES-256-GCM under the WRAP sub-key, bound to
its kid). Keys are never deleted by rotation: a retired key stays published until
every token it signed has expired, so verifiers keep accepting those tokens.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
)
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import ConfigurationError
from lensguard.logs import get_logger
from lensguard.protect.wrap import UnwrapError, unwrap, wrap
from lensguard.store.db import Database
from lensguard.store.models import SigningKey
from lensguard.store.types import utcnow

ALGORITHM = "EdDSA"
KEY_CACHE_SECONDS = 60.0
"""How long a node trusts its cached keys before re-reading them (rotation elsewhere)."""
MISS_RELOAD_SECONDS = 5.0
"""At most one reload per this interval for unknown kids, so random kids cannot flood the DB."""
OnRotated = Callable[[AsyncSession, str, str], Awaitable[None]]
"""Called with the transaction, the new kid and the retired one."""
PUBLIC_JWK_MEMBERS = ("kty", "crv", "x")

log = get_logger("lensguard.identity.signing_keys")


def new_kid() -> str:
    """A random, URL-safe key id."""
    return secrets.token_urlsafe(12)


def _aad(kid: str) -> bytes:
    return f"signing-key:{kid}".encode()


def wrap_aad(kid: str) -> bytes:
    """What the wrapped private half of key ``kid`` is bound to (for re-wrapping it)."""
    return _aad(kid)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: Ed25519PublicKey, *, kid: str) -> dict[str, Any]:
    """The public JWK (RFC 8037) of ``public_key``, labelled with ``kid``."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": kid, "alg": ALGORITHM}


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    """The Ed25519 public key in ``jwk``; raises ``ValueError`` for anything else."""
    x = jwk.get("x")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(x, str):
        raise ValueError("not an Ed25519 public JWK")
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("JWK member x is not base64url") from exc
    return Ed25519PublicKey.from_public_bytes(raw)


def private_key_of(row: SigningKey, *, wrap_key: bytes) -> Ed25519PrivateKey:
    """Unwrap the private key of ``row``; raises ``UnwrapError`` under a wrong wrap key."""
    key = load_der_private_key(
        unwrap(wrap_key, row.private_key_wrapped, aad=_aad(row.kid)), password=None
    )
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"signing key {row.kid} is not an Ed25519 key")
    return key


def is_published(row: SigningKey, *, window: int, now: datetime) -> bool:
    """True while ``row`` may verify tokens: not retired, or retired under ``window`` s ago."""
    return row.retired_at is None or row.retired_at > now - timedelta(seconds=window)


async def create_signing_key(
    session: AsyncSession, *, wrap_key: bytes, now: datetime | None = None
) -> SigningKey:
    """Generate and store a new Ed25519 key; it becomes the active one."""
    kid = new_kid()
    private_key = Ed25519PrivateKey.generate()
    pkcs8 = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    row = SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        public_jwk=public_jwk(private_key.public_key(), kid=kid),
        private_key_wrapped=wrap(wrap_key, pkcs8, aad=_aad(kid)),
        created_at=now or utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def rotate_signing_key(
    session: AsyncSession, *, wrap_key: bytes, now: datetime | None = None
) -> str:
    """Retire the active key and create its successor; returns the new kid.

    Raises ``ConfigurationError`` when ``wrap_key`` cannot open the active key.
    """
    now = now or utcnow()
    active = await active_signing_key(session)
    if active is not None:
        # A successor wrapped under another master secret would stop every node signing.
        try:
            private_key_of(active, wrap_key=wrap_key)
        except UnwrapError as exc:
            raise ConfigurationError(
                "the secret_key differs from the one that wrapped the active signing key"
            ) from exc
    # Retire every unretired key, not just the newest: two nodes creating the first key at
    # once can leave two active, and a rotation must leave exactly one.
    await session.execute(
        update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now)
    )
    row = await create_signing_key(session, wrap_key=wrap_key, now=now)
    return row.kid


async def active_signing_key(session: AsyncSession, *, lock: bool = False) -> SigningKey | None:
    """The newest unretired key, or None when there is none (``lock``: for update)."""
    query = (
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
        .limit(1)
    )
    result = await session.execute(query.with_for_update() if lock else query)
    return result.scalar_one_or_none()


def wrap_key_check(wrap_key: bytes) -> Callable[[AsyncSession], Awaitable[None]]:
    """A start-up check that ``wrap_key`` opens the active signing key (if there is one).

    Raises ``ConfigurationError``: a node on another master secret must stop at start,
    not sign with a key it cannot open or chain audit entries under the wrong key.
    """

    async def check(session: AsyncSession) -> None:
        active = await active_signing_key(session)
        if active is None:
            return
        try:
            unwrap(wrap_key, active.private_key_wrapped, aad=_aad(active.kid))
        except UnwrapError:
            raise ConfigurationError(
                "the secret_key differs from the one that wrapped the active signing key: "
                "it is not the secret the stored secrets are under (run `lensguard secret "
                "rotate` to move them to a new one; docs/secrets.md)"
            ) from None

    return check


async def published_signing_keys(
    session: AsyncSession, *, window: int, now: datetime | None = None
) -> Sequence[SigningKey]:
    """Keys that verify tokens: unretired, or retired less than ``window`` seconds ago."""
    cutoff = (now or utcnow()) - timedelta(seconds=window)
    result = await session.execute(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
    )
    return result.scalars().all()


async def list_signing_keys(session: AsyncSession) -> Sequence[SigningKey]:
    """Every key, newest first."""
    result = await session.execute(
        select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
    )
    return result.scalars().all()


@dataclass(frozen=True)
class ActiveKey:
    """The key this node signs with."""

    kid: str
    private_key: Ed25519PrivateKey


@dataclass(frozen=True)
class _Published:
    key: Ed25519PublicKey
    jwk: dict[str, Any]
    retired_at: float | None


class KeyRing:
    """Cached keys of one node: the active private key and every published public key."""

    def __init__(
        self,
        db: Database,
        *,
        wrap_key: bytes,
        window: int,
        clock: Callable[[], float],
    ) -> None:
        self._db = db
        self._wrap_key = wrap_key
        self._window = window
        self._clock = clock
        self._lock = asyncio.Lock()
        self._active: ActiveKey | None = None
        self._active_at = -math.inf
        self._published: dict[str, _Published] = {}
        self._published_at = -math.inf
        self._miss_reload_at = -math.inf

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _stale(self, loaded_at: float, max_age: float) -> bool:
        # A clock that stepped backwards also counts as stale rather than "fresh forever".
        return not 0 <= self._clock() - loaded_at < max_age

    async def signing_key(self) -> ActiveKey:
        """The active key, creating the first one when the table is empty."""
        active = self._active
        if active is not None and not self._stale(self._active_at, KEY_CACHE_SECONDS):
            return active
        async with self._lock:
            if self._active is None or self._stale(self._active_at, KEY_CACHE_SECONDS):
                async with self._db.transaction() as session:
                    row = await active_signing_key(session)
                    if row is None:
                        row = await create_signing_key(
                            session, wrap_key=self._wrap_key, now=self._now()
                        )
                        log.info("signing_key_created", kid=row.kid)
                    self._active = ActiveKey(row.kid, private_key_of(row, wrap_key=self._wrap_key))
                self._active_at = self._clock()
                if self._active.kid not in self._published:
                    self._published_at = -math.inf
            return self._active

    async def verification_key(self, kid: str) -> Ed25519PublicKey | None:
        """The published public key named ``kid``, or None; a plain dict lookup."""
        if self._stale(self._published_at, KEY_CACHE_SECONDS):
            await self._reload(max_age=KEY_CACHE_SECONDS)
        entry = self._published.get(kid)
        if entry is None and self._stale(self._miss_reload_at, MISS_RELOAD_SECONDS):
            # A kid we have not seen may be a key rotated in by another node.
            self._miss_reload_at = self._clock()
            await self._reload(max_age=None)
            entry = self._published.get(kid)
        if entry is None or not self._still_published(entry):
            return None
        return entry.key

    async def jwks(self) -> list[dict[str, Any]]:
        """Public JWKs of the published keys, refreshed at most every few seconds."""
        if self._stale(self._published_at, MISS_RELOAD_SECONDS):
            await self._reload(max_age=MISS_RELOAD_SECONDS)
        return [dict(e.jwk) for e in self._published.values() if self._still_published(e)]

    async def rotate(self) -> str:
        """Retire the active key, create a new one and use it from now on."""
        async with self._db.transaction() as session:
            kid = await rotate_signing_key(session, wrap_key=self._wrap_key, now=self._now())
        return await self._rotated(kid)

    async def rotate_if_older(self, max_age: float, *, then: OnRotated | None = None) -> str | None:
        """Rotate when the active key is at least ``max_age`` seconds old; its new kid.

        The active key is locked for update first, so of nodes doing this at once one
        rotates and the others find the young key (or, on PostgreSQL, no unretired row
        left at their snapshot) and do nothing. ``then`` runs in the same transaction
        (the audit entry). None when no rotation was due or there is no key yet.
        """
        async with self._db.transaction() as session:
            active = await active_signing_key(session, lock=True)
            if active is None or (self._now() - active.created_at).total_seconds() < max_age:
                return None
            kid = await rotate_signing_key(session, wrap_key=self._wrap_key, now=self._now())
            if then is not None:
                await then(session, kid, active.kid)
        return await self._rotated(kid)

    async def _rotated(self, kid: str) -> str:
        log.info("signing_key_rotated", kid=kid)
        self._active_at = -math.inf
        self._published_at = -math.inf
        await self.signing_key()
        return kid

    def _still_published(self, entry: _Published) -> bool:
        return entry.retired_at is None or self._clock() - entry.retired_at < self._window

    async def _reload(self, *, max_age: float | None) -> None:
        """Re-read the published keys; with ``max_age``, only if the cache is older."""
        async with self._lock:
            # Another task may have reloaded while this one waited for the lock.
            if max_age is not None and not self._stale(self._published_at, max_age):
                return
            async with self._db.transaction() as session:
                rows = await published_signing_keys(session, window=self._window, now=self._now())
            published: dict[str, _Published] = {}
            for row in rows:
                try:
                    key = public_key_from_jwk(row.public_jwk)
                except ValueError:
                    log.warning("signing_key_unusable", kid=row.kid)
                    continue
                jwk = {m: row.public_jwk[m] for m in PUBLIC_JWK_MEMBERS}
                jwk.update(kid=row.kid, alg=ALGORITHM, use="sig")
                retired = row.retired_at.timestamp() if row.retired_at else None
                published[row.kid] = _Published(key, jwk, retired)
            self._published = published
            self._published_at = self._clock()
