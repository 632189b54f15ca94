"""Revoking every API key of a user when its credentials change or it is disabled.

A key acts with its owner's authority for up to years: when the owner's password
is replaced because it may be known to someone else, or the account is disabled,
keys made under the old state must not outlive it. Revocation is for good; a
re-enabled account gets no key back.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal
from lensguard.identity.auditing import audit_event
from lensguard.identity.context import IdentityContext
from lensguard.store.api_keys import revoke_owner_keys
from lensguard.store.types import utcnow


async def revoke_user_keys(
    ctx: IdentityContext,
    session: AsyncSession,
    *,
    user_id: str,
    reason: str,
    by: Principal | None,
    address: str | None = None,
) -> list[str]:
    """Revoke ``user_id``'s live keys in the caller's transaction, audited; their ids."""
    revoked = await revoke_owner_keys(session, owner_user_id=user_id, at=utcnow())
    events = [
        audit_event(
            "apikey.revoke",
            by=by,
            address=address,
            resource_type="api_key",
            resource_id=key_id,
            owner=user_id,
            reason=reason,
        )
        for key_id in revoked
    ]
    await ctx.audit.append_many(session, events)
    return revoked


async def announce_revoked(ctx: IdentityContext, key_ids: list[str], *, reason: str) -> None:
    """Tell live connections those keys are gone (after the revoking transaction commits)."""
    for key_id in key_ids:
        await ctx.announce(api_key_id=key_id, reason=reason)
