"""Sessions and API keys belong to an account or a device: who may see and end them.

Your own, through ``account_self``; someone else's only through ``user_management``
over an owner within your reach (``access.delegation``); a device's credential
through ``device_manage`` over a device in your scope.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.can import SELF_SERVICE
from lensguard.access.principal import ALL, Grant, Principal, Resource
from lensguard.identity.account_scope import MANAGE, account
from lensguard.identity.context import IdentityContext
from lensguard.store.devices import get_device
from lensguard.store.models import ApiKey, LoginSession
from lensguard.store.users import get_user

DEVICE_MANAGE = "device_manage"
_EVERYWHERE = frozenset({ALL})


async def _owned(
    ctx: IdentityContext,
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str,
    id: str,
    owner_id: str | None,
) -> tuple[str, Resource]:
    if owner_id == principal.id:
        return SELF_SERVICE, Resource(kind=kind, id=id, owner_id=owner_id)
    owner = await get_user(session, user_id=owner_id) if owner_id is not None else None
    if owner is None:
        # No account behind it to compare with: only a manager of every site may touch it.
        everywhere = Grant(sites=_EVERYWHERE, devices=_EVERYWHERE)
        return MANAGE, Resource(kind=kind, id=id, owner_id=owner_id, holds=everywhere)
    return MANAGE, account(ctx.policy, owner, kind=kind, id=id)


async def session_access(
    ctx: IdentityContext, session: AsyncSession, principal: Principal, login: LoginSession
) -> tuple[str, Resource]:
    """The action and resource ``can()`` decides on for touching ``login``."""
    return await _owned(
        ctx, session, principal, kind="session", id=login.id, owner_id=login.user_id
    )


async def key_access(
    ctx: IdentityContext, session: AsyncSession, principal: Principal, key: ApiKey
) -> tuple[str, Resource]:
    """The action and resource ``can()`` decides on for seeing or revoking ``key``."""
    if key.owner_device_id is None:
        return await _owned(
            ctx, session, principal, kind="api_key", id=key.id, owner_id=key.owner_user_id
        )
    device = await get_device(session, device_id=key.owner_device_id)
    site = device.site if device is not None else None
    reach = Grant(
        sites=frozenset({site}) if site is not None else _EVERYWHERE,
        devices=frozenset({key.owner_device_id}),
    )
    return DEVICE_MANAGE, Resource(kind="api_key", id=key.id, site=site, holds=reach)
