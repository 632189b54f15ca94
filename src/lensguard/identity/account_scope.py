"""What an account holds, as ``can()`` sees it, and the accounts a manager may see.

User management is decided by ``can()`` over ``Resource.holds`` (the account now) and
``Resource.grants`` (the account after a change): see ``access.delegation``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lensguard.access.can import can
from lensguard.access.policy import Policy
from lensguard.access.principal import Grant, Principal, Resource
from lensguard.identity.context import IdentityContext
from lensguard.store.models import User
from lensguard.store.users import list_users

MANAGE = "user_management"
_BATCH = 500


def grant_of(policy: Policy, *, role: str, sites: Iterable[str], devices: Iterable[str]) -> Grant:
    """What an account with this role and scope may do (its role's full permissions)."""
    return Grant(
        permissions=policy.grants(role), sites=frozenset(sites), devices=frozenset(devices)
    )


def holding(policy: Policy, user: User) -> Grant:
    """What ``user`` holds as stored now."""
    return grant_of(policy, role=user.role, sites=user.sites, devices=user.devices)


def account(policy: Policy, user: User, *, kind: str = "user", id: str | None = None) -> Resource:
    """``user`` as the resource of a management action (``kind`` names it in a 404)."""
    return Resource(kind=kind, id=id or user.id, owner_id=user.id, holds=holding(policy, user))


def may_see(policy: Policy, principal: Principal, user: User) -> bool:
    """Whether ``principal`` may manage (and so see) ``user``."""
    return can(principal, MANAGE, account(policy, user))


async def visible_accounts(
    ctx: IdentityContext, principal: Principal, *, limit: int, offset: int
) -> list[User]:
    """One page, by username, of the accounts ``principal`` may manage; others are skipped."""
    shown: list[User] = []
    skipped = 0
    start = 0
    async with ctx.db.sessions() as session:
        while len(shown) < limit:
            batch: Sequence[User] = await list_users(session, limit=_BATCH, offset=start)
            for user in batch:
                if not may_see(ctx.policy, principal, user):
                    continue
                if skipped < offset:
                    skipped += 1
                elif len(shown) < limit:
                    shown.append(user)
            if len(batch) < _BATCH:
                break
            start += _BATCH
    return shown
