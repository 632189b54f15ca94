"""The revocation store: sessions and tokens revoked before their natural end.

Two implementations: the database table (embedded default, durable) and Redis
(cluster mode: every node sees a revocation on its next request). Callers treat any
store error as "cannot decide" and refuse the request (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from lensguard.errors import ServiceUnavailable
from lensguard.store.db import Database, is_sqlite
from lensguard.store.models import Revocation
from lensguard.store.types import utcnow


def session_key(session_id: str) -> str:
    """The revocation key of a login session (every token it issued)."""
    return f"sid:{session_id}"


def token_key(jti: str) -> str:
    """The revocation key of one access token."""
    return f"jti:{jti}"


class RevocationStore(Protocol):
    """Remembers revoked keys until ``ttl`` seconds pass (when tokens expire anyway)."""

    async def revoke(self, key: str, *, ttl: int) -> None:
        """Mark ``key`` revoked for ``ttl`` seconds."""
        ...

    async def any_revoked(self, keys: Sequence[str]) -> bool:
        """True when any of ``keys`` is revoked; raises ServiceUnavailable if unsure."""
        ...


class DatabaseRevocationStore:
    """Revocations as rows; expired rows are ignored and pruned on write."""

    def __init__(self, db: Database, *, now: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._now = now

    async def revoke(self, key: str, *, ttl: int) -> None:
        now = self._now()
        values = {"key": key, "value": "1", "expires_at": now + timedelta(seconds=ttl)}
        insert = sqlite_insert if is_sqlite(self._db.url) else pg_insert
        stmt = insert(Revocation).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Revocation.key], set_={"expires_at": values["expires_at"]}
        )
        async with self._db.transaction() as session:
            await session.execute(stmt)
            await session.execute(delete(Revocation).where(Revocation.expires_at < now))

    async def any_revoked(self, keys: Sequence[str]) -> bool:
        if not keys:
            return False
        try:
            async with self._db.sessions() as session:
                result = await session.execute(
                    select(Revocation.key)
                    .where(Revocation.key.in_(list(keys)), Revocation.expires_at > self._now())
                    .limit(1)
                )
                return result.first() is not None
        except Exception as exc:
            raise ServiceUnavailable("the revocation store is unreachable") from exc


class RedisRevocationStore:
    """Revocations as expiring Redis keys."""

    def __init__(self, redis: Redis, *, prefix: str = "lg:revoked:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def revoke(self, key: str, *, ttl: int) -> None:
        await self._redis.set(self._prefix + key, "1", ex=max(1, ttl))

    async def any_revoked(self, keys: Sequence[str]) -> bool:
        if not keys:
            return False
        try:
            found = await self._redis.exists(*(self._prefix + k for k in keys))
        except Exception as exc:
            raise ServiceUnavailable("the revocation store is unreachable") from exc
        return int(found) > 0
