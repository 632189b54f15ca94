"""User repository: keyword-only functions over an open session."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import Conflict
from lensguard.store.models import User
from lensguard.store.usernames import fold, skeleton


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password_hash: str,
    role: str,
    must_change_password: bool = False,
) -> User:
    """Insert a user under its folded name; ``Conflict`` when it is taken or reads like one."""
    name, lookalike = fold(username), skeleton(username)
    taken = await session.execute(
        select(User.username).where(User.username_skeleton == lookalike, User.username != name)
    )
    if taken.first() is not None:
        raise Conflict("a user whose name reads the same already exists")
    user = User(
        username=name,
        username_skeleton=lookalike,
        password_hash=password_hash,
        role=role,
        must_change_password=must_change_password,
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("a user with this username already exists") from exc
    return user


async def get_user(session: AsyncSession, *, user_id: str) -> User | None:
    """The user with ``user_id``, or None."""
    return await session.get(User, user_id)


async def get_user_by_username(session: AsyncSession, *, username: str) -> User | None:
    """The user named ``username`` (compared folded), or None."""
    result = await session.execute(select(User).where(User.username == fold(username)))
    return result.scalar_one_or_none()


async def count_users(session: AsyncSession) -> int:
    """How many users exist (disabled ones included)."""
    result = await session.execute(select(func.count()).select_from(User))
    return int(result.scalar_one())


async def list_users(
    session: AsyncSession, *, limit: int = 100, offset: int = 0, after: str | None = None
) -> Sequence[User]:
    """Users ordered by username; those after the username ``after`` when given."""
    query = select(User).order_by(User.username)
    if after is not None:
        query = query.where(User.username > after)
    result = await session.execute(query.limit(limit).offset(offset))
    return result.scalars().all()


async def claim_totp_step(session: AsyncSession, *, user_id: str, step: int) -> bool:
    """Record ``step`` as the last TOTP step used; False if it (or a later one) already was.

    A conditional UPDATE, so two concurrent sign-ins with the same code cannot both win.
    """
    result = await session.execute(
        update(User)
        .where(
            User.id == user_id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def set_password_hash(session: AsyncSession, *, user_id: str, password_hash: str) -> None:
    """Replace a user's password hash (e.g. a rehash with stronger parameters)."""
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )
