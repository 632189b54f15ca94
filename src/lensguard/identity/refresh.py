"""Login sessions and their single-use refresh tokens, with reuse detection.

A login starts a session (a token family) with a 30-day absolute end. Each refresh
consumes the presented token with a compare-and-set (``used_at IS NULL``), so of
any number of concurrent refreshes exactly one wins. Presenting a token that was
already used means it leaked: the whole family is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.keyring import sealed
from lensguard.keyring.fields import FieldKeys
from lensguard.store.models import LoginSession, RefreshToken
from lensguard.store.types import utcnow

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128


def hash_token(key: bytes, token: str) -> str:
    """Keyed hash under which a refresh token is stored and looked up."""
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


async def _add_token(
    session: AsyncSession, *, key: bytes, session_id: str, parent_id: str | None
) -> str:
    token = _new_token()
    session.add(
        RefreshToken(session_id=session_id, token_hash=hash_token(key, token), parent_id=parent_id)
    )
    await session.flush()
    return token


async def start_session(
    session: AsyncSession,
    *,
    key: bytes,
    fields: FieldKeys,
    user_id: str,
    lifetime: int,
    client_address: str | None,
    user_agent: str | None,
    now: datetime | None = None,
) -> tuple[LoginSession, str]:
    """Create a login session and its first refresh token (returned in clear once)."""
    now = now or utcnow()
    login = LoginSession(
        user_id=user_id,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(seconds=lifetime),
    )
    session.add(login)
    await session.flush()
    # Where and with what the person signed in is theirs: sealed, never in clear.
    seen = {"client_address": client_address, "user_agent": (user_agent or "")[:256] or None}
    await sealed.write(fields, session, sealed.SESSIONS, login, seen)
    token = await _add_token(session, key=key, session_id=login.id, parent_id=None)
    return login, token


class RefreshStatus(StrEnum):
    OK = "ok"
    INVALID = "invalid"
    REUSED = "reused"


@dataclass(frozen=True)
class RefreshOutcome:
    """What a refresh attempt found; ``token`` is the new one when OK."""

    status: RefreshStatus
    login: LoginSession | None = None
    token: str | None = None


async def rotate(
    session: AsyncSession, *, key: bytes, presented: str, now: datetime | None = None
) -> RefreshOutcome:
    """Consume ``presented`` and issue its successor; on reuse revoke the family.

    The caller must commit even when the outcome is REUSED, so the revocation sticks.
    """
    if not presented or len(presented) > MAX_TOKEN_CHARS:
        return RefreshOutcome(RefreshStatus.INVALID)
    row = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(key, presented))
        )
    ).scalar_one_or_none()
    if row is None:
        return RefreshOutcome(RefreshStatus.INVALID)
    login = await session.get(LoginSession, row.session_id)
    now = now or utcnow()
    if login is None or login.revoked_at is not None or login.expires_at <= now:
        return RefreshOutcome(RefreshStatus.INVALID, login)
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_session(session, login=login, reason="refresh_token_reuse", now=now)
        return RefreshOutcome(RefreshStatus.REUSED, login)
    login.last_used_at = now
    token = await _add_token(session, key=key, session_id=login.id, parent_id=row.id)
    return RefreshOutcome(RefreshStatus.OK, login, token)


async def revoke_session(
    session: AsyncSession, *, login: LoginSession, reason: str, now: datetime | None = None
) -> bool:
    """Mark a session revoked; False when it already was."""
    if login.revoked_at is not None:
        return False
    login.revoked_at = now or utcnow()
    login.revoked_reason = reason
    await session.flush()
    return True


async def get_session(session: AsyncSession, *, session_id: str) -> LoginSession | None:
    """The login session with ``session_id``, or None."""
    return await session.get(LoginSession, session_id)


async def list_sessions(
    session: AsyncSession,
    *,
    user_id: str | None = None,
    active_only: bool = True,
    now: datetime | None = None,
) -> Sequence[LoginSession]:
    """Sessions of ``user_id`` (all users when None), newest first."""
    query = select(LoginSession).order_by(LoginSession.created_at.desc())
    if user_id is not None:
        query = query.where(LoginSession.user_id == user_id)
    if active_only:
        query = query.where(
            LoginSession.revoked_at.is_(None), LoginSession.expires_at > (now or utcnow())
        )
    return (await session.execute(query)).scalars().all()


def remaining_seconds(login: LoginSession, now: datetime | None = None) -> int:
    """Seconds until the session's absolute end (at least 1)."""
    return max(1, int((login.expires_at - (now or utcnow())).total_seconds()))
