"""Field encryption of personal data: AES-256-GCM under versioned data keys, and a blind index.

A personal value (an e-mail address, a name, a phone number, the address a session
signed in from) is sealed on its own, bound to where it lives (``table.column|row id``)
so a sealed value copied into another row or column does not open.

Sealed format: ``0xF1 || key version (4 bytes, big-endian) || protect.wrap(...)``.

The data keys are random and live in ``field_keys`` wrapped under the master secret's
wrap key: the newest live version seals, every live version opens. ``lensguard
privacy rekey`` adds a version, re-seals every row under it and then retires the older
ones (``keyring/rekey.py``). A node meeting a version it has not loaded yet (another
node or the rekey job made it) reads it from the database.

Equality lookups (sign-in by e-mail) go through a blind index: HMAC-SHA256 under its
own random key, over the column's name and the normalised value. It reveals only
which rows hold the same value, which is what a unique lookup needs.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.keyring.models import FieldKey
from lensguard.protect.wrap import UnwrapError, unwrap, wrap
from lensguard.store.types import utcnow

MAGIC = b"\xf1"
_HEADER = len(MAGIC) + 4
DATA, INDEX = "data", "index"
INDEX_VERSION = 1
"""The blind-index key is not rotated by ``rekey``: every index would change with it."""


class FieldUnreadable(ValueError):
    """A sealed value that is malformed, altered, moved, or under a retired key."""


def key_aad(purpose: str, version: int) -> bytes:
    """What a stored field key is bound to (also used by the secret rotation)."""
    return f"lensguard/field-key|{purpose}|v{version}".encode()


def _field_aad(where: str) -> bytes:
    return f"lensguard/field|{where}".encode()


def version_of(sealed: bytes) -> int:
    """The data-key version a sealed value was made with; ``FieldUnreadable`` if not one."""
    if len(sealed) <= _HEADER or sealed[:1] != MAGIC:
        raise FieldUnreadable("not a sealed field")
    return int.from_bytes(sealed[1:_HEADER], "big")


class FieldKeys:
    """One node's view of the field keys: the live data keys it has opened, the index key."""

    def __init__(self, wrap_key: bytes) -> None:
        self._wrap_key = wrap_key
        self._data: dict[int, bytes] = {}
        self._index: bytes | None = None

    def _open_key(self, row: FieldKey) -> bytes:
        if row.wrapped is None:
            raise FieldUnreadable(f"field key {row.purpose} v{row.version} is retired")
        try:
            return unwrap(self._wrap_key, row.wrapped, aad=key_aad(row.purpose, row.version))
        except UnwrapError as exc:
            raise FieldUnreadable(f"field key {row.purpose} v{row.version} does not open") from exc

    async def create(self, session: AsyncSession, purpose: str, version: int) -> FieldKey:
        """A new random key of ``purpose`` at ``version``; another node's if it won the race."""
        key = os.urandom(32)
        row = FieldKey(
            purpose=purpose,
            version=version,
            wrapped=wrap(self._wrap_key, key, aad=key_aad(purpose, version)),
            created_at=utcnow(),
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            theirs = await session.get(FieldKey, (purpose, version), populate_existing=True)
            if theirs is None:  # pragma: no cover - the conflicting row vanished again
                raise
            return theirs
        return row

    async def current(self, session: AsyncSession) -> tuple[int, bytes]:
        """The newest live data key (made on first use), locked for share until commit.

        The share lock is what keeps ``rekey`` from retiring a version while a
        transaction is still sealing under it.
        """
        found = await session.execute(
            select(FieldKey)
            .where(FieldKey.purpose == DATA, FieldKey.retired_at.is_(None))
            .order_by(FieldKey.version.desc())
            .limit(1)
            .with_for_update(read=True)
        )
        row = found.scalar_one_or_none() or await self.create(session, DATA, 1)
        key = self._data.get(row.version)
        if key is None:
            key = self._data[row.version] = self._open_key(row)
        return row.version, key

    async def _data_key(self, session: AsyncSession, version: int) -> bytes:
        key = self._data.get(version)
        if key is None:
            row = await session.get(FieldKey, (DATA, version))
            if row is None:
                raise FieldUnreadable(f"no field key v{version}")
            key = self._data[version] = self._open_key(row)
        return key

    def forget(self, versions: list[int]) -> None:
        """Drop retired versions from memory (the rekey job does, on its own node)."""
        for version in versions:
            self._data.pop(version, None)

    async def seal(self, session: AsyncSession, value: str, *, where: str) -> tuple[int, bytes]:
        """``value`` sealed under the current data key for ``where``; and that key's version."""
        version, key = await self.current(session)
        body = wrap(key, value.encode("utf-8"), aad=_field_aad(where))
        return version, MAGIC + version.to_bytes(4, "big") + body

    async def open(self, session: AsyncSession, sealed: bytes, *, where: str) -> str:
        """The value ``seal`` sealed for ``where``; ``FieldUnreadable`` when it cannot be."""
        key = await self._data_key(session, version_of(sealed))
        try:
            return unwrap(key, sealed[_HEADER:], aad=_field_aad(where)).decode("utf-8")
        except UnwrapError as exc:
            raise FieldUnreadable(
                f"the sealed value of {where.split('|', maxsplit=1)[0]} does not open"
            ) from exc

    async def index(
        self, session: AsyncSession, value: str, *, column: str, create: bool = False
    ) -> str | None:
        """The blind index of ``value`` in ``column`` (hex).

        None when no index key exists yet and ``create`` is false: then no row holds
        an indexed value, and a lookup can answer "none" without a query.
        """
        if self._index is None:
            row = await session.get(FieldKey, (INDEX, INDEX_VERSION))
            if row is None:
                if not create:
                    return None
                row = await self.create(session, INDEX, INDEX_VERSION)
            self._index = self._open_key(row)
        message = f"{column}|{value}".encode()
        return hmac.new(self._index, message, hashlib.sha256).hexdigest()
