"""The evidence signing key: an Ed25519 pair that signs evidence bundles, and only them.

Kept in ``evidence_keys``, apart from the token signing keys, so the token verifier
(which reads only ``signing_keys``) can never accept a token signed with it. The
private half is stored only wrapped (AES-256-GCM under the WRAP sub-key of the master
secret, bound to its kid), so it survives restarts and moves with ``secret rotate``
like the other stored secrets. The first key is created when the first bundle is
signed.

Rotation (``lensguard evidence rotate-key``) retires the signing key and creates its
successor. A retired key never signs again but stays published in
``/.well-known/jwks.json`` for good: bundles it signed must verify for as long as
anyone keeps them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
)
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.identity.signing_keys import public_jwk, public_key_from_jwk
from lensguard.protect.wrap import unwrap, wrap
from lensguard.recordings.export_models import EvidenceKey
from lensguard.store.db import Database

ALGORITHM = "EdDSA"
KID_PREFIX = "evidence-"


def wrap_aad(kid: str) -> bytes:
    """What an evidence key's wrapped private half is bound to (its kid)."""
    return f"evidence-key:{kid}".encode()


def evidence_jwk(row: EvidenceKey) -> dict[str, Any]:
    """The public JWK of ``row`` as published: OKP Ed25519, ``use: sig``, its own kid."""
    jwk = {m: row.public_jwk[m] for m in ("kty", "crv", "x")}
    jwk.update(kid=row.kid, alg=ALGORITHM, use="sig")
    return jwk


def public_pem(row: EvidenceKey) -> str:
    """The public key of ``row`` as a PEM SubjectPublicKeyInfo."""
    key = public_key_from_jwk(row.public_jwk)
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


@dataclass(frozen=True)
class SigningEvidenceKey:
    """The key that signs new bundles."""

    kid: str
    private_key: Ed25519PrivateKey


async def _create(session: AsyncSession, wrap_key: bytes, now: datetime) -> EvidenceKey:
    kid = KID_PREFIX + secrets.token_urlsafe(12)
    private_key = Ed25519PrivateKey.generate()
    pkcs8 = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    row = EvidenceKey(
        kid=kid,
        public_jwk=public_jwk(private_key.public_key(), kid=kid),
        private_key_wrapped=wrap(wrap_key, pkcs8, aad=wrap_aad(kid)),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


def _private(row: EvidenceKey, wrap_key: bytes) -> Ed25519PrivateKey:
    key = load_der_private_key(
        unwrap(wrap_key, row.private_key_wrapped, aad=wrap_aad(row.kid)), password=None
    )
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"evidence key {row.kid} is not an Ed25519 key")
    return key


async def _active(session: AsyncSession) -> EvidenceKey | None:
    result = await session.execute(
        select(EvidenceKey)
        .where(EvidenceKey.retired_at.is_(None))
        .order_by(EvidenceKey.created_at.desc(), EvidenceKey.kid.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


class EvidenceKeys:
    """The evidence keys of this deployment (read from the database on every use)."""

    def __init__(self, db: Database, *, wrap_key: bytes) -> None:
        self._db = db
        self._wrap_key = wrap_key

    async def signing_key(self, now: datetime) -> SigningEvidenceKey:
        """The active key, creating the first one when there is none."""
        async with self._db.transaction() as session:
            row = await _active(session)
            if row is None:
                row = await _create(session, self._wrap_key, now)
            return SigningEvidenceKey(row.kid, _private(row, self._wrap_key))

    async def rotate(self, now: datetime) -> str:
        """Retire every unretired key and create the next; returns the new kid."""
        async with self._db.transaction() as session:
            active = await _active(session)
            if active is not None:
                _private(active, self._wrap_key)  # refuse a successor under another secret
            await session.execute(
                update(EvidenceKey).where(EvidenceKey.retired_at.is_(None)).values(retired_at=now)
            )
            return (await _create(session, self._wrap_key, now)).kid

    async def all(self) -> Sequence[EvidenceKey]:
        """Every key, newest first (retired ones included: they verify old bundles)."""
        async with self._db.sessions() as session:
            result = await session.execute(
                select(EvidenceKey).order_by(EvidenceKey.created_at.desc(), EvidenceKey.kid.desc())
            )
            return result.scalars().all()

    async def jwks(self) -> list[dict[str, Any]]:
        """The public JWKs of every key."""
        return [evidence_jwk(row) for row in await self.all()]
