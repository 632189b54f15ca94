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
    ctx: IdentityContext, principal: Principal, *, limit: int, after: str | None = None
) -> list[User]:
    """Up to ``limit`` accounts ``principal`` may manage, by username after ``after``.

    The others are skipped in the database's order, so a page is cut after the filter.
    """
    shown: list[User] = []
    async with ctx.db.sessions() as session:
        while len(shown) < limit:
            batch: Sequence[User] = await list_users(session, limit=_BATCH, after=after)
            for user in batch:
                if len(shown) < limit and may_see(ctx.policy, principal, user):
                    shown.append(user)
            if len(batch) < _BATCH:
                break
            after = batch[-1].username
    return shown
