"""Recovery-code repository: keyword-only functions over an open session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.store.models import RecoveryCode


async def replace_codes(session: AsyncSession, *, user_id: str, hashes: Sequence[str]) -> None:
    """Drop every code of ``user_id`` and store ``hashes`` as its new, unused set."""
    await delete_codes(session, user_id=user_id)
    session.add_all(RecoveryCode(user_id=user_id, code_hash=h) for h in hashes)
    await session.flush()


async def delete_codes(session: AsyncSession, *, user_id: str) -> None:
    """Remove every code of ``user_id``, used or not."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


async def is_unused(session: AsyncSession, *, user_id: str, code_hash: str) -> bool:
    """True when ``user_id`` holds this code and it has not been used."""
    result = await session.execute(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.used_at.is_(None),
        )
    )
    return result.first() is not None


async def claim_code(session: AsyncSession, *, user_id: str, code_hash: str, at: datetime) -> bool:
    """Mark the code used; False when it is unknown or already used.

    One conditional UPDATE, so two concurrent uses of one code cannot both win.
    """
    result = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=at)
        .returning(RecoveryCode.id)
    )
    return result.first() is not None


async def count_unused(session: AsyncSession, *, user_id: str) -> int:
    """How many of ``user_id``'s codes are still unused."""
    result = await session.execute(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return int(result.scalar_one())
