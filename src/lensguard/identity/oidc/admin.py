"""Admins see and remove an account's provider identities, and switch its password off.

Each goes through the same manage check as any account change (``accounts.read_account``:
absent or out of reach answers 404) and is audited in the transaction that makes it.
"""

from __future__ import annotations

from lensguard.access.principal import Principal
from lensguard.errors import NotFound
from lensguard.identity import accounts
from lensguard.identity.auditing import append, audit_event
from lensguard.identity.context import IdentityContext
from lensguard.identity.oidc.linking import identities_of
from lensguard.store.models import OidcIdentity, User


async def list_identities(
    ctx: IdentityContext, user_id: str, *, by: Principal
) -> tuple[User, list[OidcIdentity]]:
    """The account and its linked identities."""
    user = await accounts.read_account(ctx, user_id, by=by)
    async with ctx.db.sessions() as session:
        return user, await identities_of(session, user.id)


async def unlink(
    ctx: IdentityContext, user_id: str, identity_id: str, *, by: Principal, address: str
) -> None:
    """Remove one link: that provider identity no longer signs in as this account."""
    user = await accounts.read_account(ctx, user_id, by=by)
    async with ctx.db.transaction() as session:
        link = await session.get(OidcIdentity, identity_id)
        if link is None or link.user_id != user.id:
            raise NotFound("no such linked identity")
        await session.delete(link)
        event = audit_event(
            "user.identity_unlink",
            by=by,
            address=address,
            resource_type="user",
            resource_id=user.id,
            provider=link.provider,
            identity=link.id,
        )
        await append(ctx, session, event)


async def set_password_login(
    ctx: IdentityContext, user_id: str, *, enabled: bool, by: Principal, address: str
) -> None:
    """Allow or refuse password sign-in for the account (single sign-on is unaffected)."""
    user = await accounts.read_account(ctx, user_id, by=by)
    async with ctx.db.transaction() as session:
        stored = await session.get(User, user.id)
        if stored is None:
            raise NotFound("no such user")
        stored.password_login = enabled
        event = audit_event(
            "user.password_login",
            by=by,
            address=address,
            resource_type="user",
            resource_id=user.id,
            enabled=enabled,
        )
        await append(ctx, session, event)
