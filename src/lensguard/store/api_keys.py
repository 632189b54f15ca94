"""API-key repository: keyword-only functions over an open session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import Conflict
from lensguard.store.models import ApiKey


async def create_api_key(
    session: AsyncSession,
    *,
    key_id: str,
    name: str,
    owner_user_id: str | None,
    secret_hash: str,
    scopes: Sequence[str],
    expires_at: datetime,
    rate_limit_per_minute: int = 600,
    owner_device_id: str | None = None,
) -> ApiKey:
    """Insert a key; raises ``Conflict`` when the key id is taken."""
    key = ApiKey(
        id=key_id,
        name=name,
        owner_user_id=owner_user_id,
        owner_device_id=owner_device_id,
        secret_hash=secret_hash,
        scopes=list(scopes),
        expires_at=expires_at,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    try:
        async with session.begin_nested():
            session.add(key)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"an API key with id {key_id!r} already exists") from exc
    return key


async def get_api_key(session: AsyncSession, *, key_id: str) -> ApiKey | None:
    """The key with ``key_id`` (revoked and expired ones included), or None."""
    return await session.get(ApiKey, key_id)


async def list_api_keys(
    session: AsyncSession, *, owner_user_id: str | None = None
) -> Sequence[ApiKey]:
    """Keys of ``owner_user_id`` (every key when None), oldest first."""
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if owner_user_id is not None:
        query = query.where(ApiKey.owner_user_id == owner_user_id)
    result = await session.execute(query)
    return result.scalars().all()


async def revoke_api_key(session: AsyncSession, *, key_id: str, at: datetime) -> bool:
    """Mark a key revoked; False when it is unknown or already revoked."""
    # One conditional UPDATE, so two concurrent revocations cannot both report success.
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at)
        .returning(ApiKey.id)
    )
    return result.scalar_one_or_none() is not None


async def touch_last_used(session: AsyncSession, *, key_id: str, at: datetime) -> None:
    """Record that the key was used at ``at``; never moves the timestamp backwards."""
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at),
        )
        .values(last_used_at=at)
    )


async def revoke_owner_keys(
    session: AsyncSession, *, owner_user_id: str, at: datetime
) -> list[str]:
    """Revoke every live key of ``owner_user_id``; the ids of those this call revoked."""
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.owner_user_id == owner_user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at)
        .returning(ApiKey.id)
    )
    return sorted(result.scalars().all())
