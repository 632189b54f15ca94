"""Time-bounded recording grants: share one device's recordings in a range for N hours.

A grant names one user or one role, one device and a time range of its recordings,
and lasts ``hours`` (1 to 720) from its creation on the app clock, unless revoked
first. It widens the grantee's *scope*, never its permissions: the grantee still
needs ``recording_view`` from its role, and sees only the granted range of that one
device. Only signed-in users are grantees (an API key or device never is).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal, PrincipalKind
from lensguard.recordings.access_models import RecordingGrant

MIN_HOURS = 1
MAX_HOURS = 720
"""A grant lasts at most 30 days."""


def active(grant: RecordingGrant, now: datetime) -> bool:
    """Whether the grant still opens anything at ``now``."""
    return grant.revoked_at is None and grant.expires_at > now


def holds(grant: RecordingGrant, principal: Principal) -> bool:
    """Whether ``principal`` is the grant's grantee (a signed-in user, by id or role)."""
    if principal.kind is not PrincipalKind.USER:
        return False
    if grant.user_id is not None:
        return grant.user_id == principal.id
    return grant.role == principal.role


async def grants_for(
    session: AsyncSession,
    principal: Principal,
    device_id: str,
    now: datetime,
    *,
    start: datetime,
    end: datetime,
) -> list[RecordingGrant]:
    """The principal's active grants on the device whose range overlaps ``[start, end)``."""
    if principal.kind is not PrincipalKind.USER:
        return []
    result = await session.execute(
        select(RecordingGrant)
        .where(
            RecordingGrant.device_id == device_id,
            RecordingGrant.revoked_at.is_(None),
            RecordingGrant.expires_at > now,
            RecordingGrant.starts_at < end,
            RecordingGrant.ends_at > start,
            or_(
                RecordingGrant.user_id == principal.id,
                and_(RecordingGrant.user_id.is_(None), RecordingGrant.role == principal.role),
            ),
        )
        .order_by(RecordingGrant.starts_at, RecordingGrant.id)
    )
    return list(result.scalars().all())


async def create(
    session: AsyncSession,
    *,
    device_id: str,
    start: datetime,
    end: datetime,
    user_id: str | None,
    role: str | None,
    hours: int,
    by: Principal,
    now: datetime,
) -> RecordingGrant:
    """A new grant (the caller has checked the device, the grantee and the right to share)."""
    if (user_id is None) == (role is None):
        raise ValueError("a grant names one user or one role")
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise ValueError(f"a grant lasts {MIN_HOURS} to {MAX_HOURS} hours")
    if end <= start:
        raise ValueError("a grant's range ends after it starts")
    row = RecordingGrant(
        device_id=device_id,
        starts_at=start,
        ends_at=end,
        user_id=user_id,
        role=role,
        created_by=by.id,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(row)
    await session.flush()
    return row


async def listed(
    session: AsyncSession, device_ids: Sequence[str] | None = None
) -> list[RecordingGrant]:
    """Every grant (of the given devices), newest first."""
    query = select(RecordingGrant)
    if device_ids is not None:
        query = query.where(RecordingGrant.device_id.in_(device_ids))
    result = await session.execute(
        query.order_by(RecordingGrant.created_at.desc(), RecordingGrant.id)
    )
    return list(result.scalars().all())


async def get(session: AsyncSession, grant_id: str) -> RecordingGrant | None:
    """One grant by id."""
    return await session.get(RecordingGrant, grant_id)
