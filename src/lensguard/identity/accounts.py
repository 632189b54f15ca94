"""Account changes by administrators: create, change, remove users.

Each change that narrows access ends sessions; one's own password and MFA are
changed in ``identity/credentials.py``.

Every change is audited in the transaction that makes it; slow password hashing
and checks happen before that transaction opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from lensguard.access.principal import ALL, Principal, Resource
from lensguard.errors import Forbidden, NotFound
from lensguard.identity.account_scope import MANAGE, account, grant_of, visible_accounts
from lensguard.identity.auditing import append, audit_event
from lensguard.identity.context import IdentityContext
from lensguard.identity.enforce import authorize
from lensguard.identity.key_revocation import revoke_user_keys
from lensguard.identity.login import end_all_sessions
from lensguard.identity.password_policy import check_password
from lensguard.identity.passwords import hash_password
from lensguard.identity.profile import checked, set_profile
from lensguard.identity.usernames import new_username
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store import users as repo
from lensguard.store.models import User


async def create_account(
    ctx: IdentityContext,
    *,
    username: str,
    password: str,
    role: str | None,
    sites: list[str] | None,
    devices: list[str] | None,
    by: Principal | None,
    address: str | None = None,
    profile: Mapping[str, str | None] | None = None,
) -> User:
    """Create a user (default role from settings); the password must pass the policy.

    ``profile`` sets personal fields (e-mail, display name, phone), sealed at rest.

    Scope left out (None) is the creator's own, or every site and device when the
    system creates the account.

    ``by`` may only create an account that holds no more than it does (role
    permissions, sites, devices). Its password is one ``by`` chose, so the new user
    must change it before anything else, as the first admin must.
    """
    role = ctx.policy.require_role_or_invalid(
        role or ctx.settings.security.access_control.default_role
    )
    username = new_username(username)
    if sites is None:
        sites = sorted(by.sites) if by is not None else [ALL]
    if devices is None:
        devices = sorted(by.devices) if by is not None else [ALL]
    if by is not None:
        wanted = grant_of(ctx.policy, role=role, sites=sites, devices=devices)
        authorize(by, MANAGE, Resource(kind="user", grants=wanted))
    check_password(password, username=username)
    fields = checked(profile or {})
    hashed = await asyncio.to_thread(hash_password, ctx.hasher, password)
    async with ctx.db.transaction() as session:
        user = await repo.create_user(
            session,
            username=username,
            password_hash=hashed,
            role=role,
            must_change_password=by is not None,
        )
        user.sites, user.devices = sites, devices
        await session.flush()
        if fields:
            await set_profile(ctx.fields, session, user, fields)
        event = audit_event(
            "user.create",
            by=by,
            address=address,
            resource_type="user",
            resource_id=user.id,
            role=role,
            sites=sites,
            devices=devices,
            # Which personal fields were set, never their values.
            profile=sorted(name for name, value in fields.items() if value is not None),
        )
        await append(ctx, session, event)
    emit("user.created", user_id=user.id, username=username, role=role, actor=by.id if by else None)
    return user


async def get_account(ctx: IdentityContext, user_id: str) -> User:
    """The user, or NotFound."""
    async with ctx.db.sessions() as session:
        user = await repo.get_user(session, user_id=user_id)
    if user is None:
        raise NotFound("no such user")
    return user


async def read_account(ctx: IdentityContext, user_id: str, *, by: Principal) -> User:
    """The user when ``by`` may manage it; NotFound when absent or out of its reach."""
    user = await get_account(ctx, user_id)
    authorize(by, MANAGE, account(ctx.policy, user), hide=True)
    return user


async def list_accounts(
    ctx: IdentityContext, *, by: Principal, limit: int, after: str | None = None
) -> list[User]:
    """Up to ``limit`` accounts ``by`` may manage, by username after ``after``."""
    return await visible_accounts(ctx, by, limit=limit, after=after)


@dataclass(frozen=True)
class AccountChange:
    role: str | None = None
    disabled: bool | None = None
    sites: list[str] | None = None
    devices: list[str] | None = None
    profile: Mapping[str, str | None] = field(default_factory=dict)
    """Personal fields to set; a field named with None is cleared."""


def _check_change(ctx: IdentityContext, by: Principal, user: User, change: AccountChange) -> None:
    """``by`` may touch ``user`` (else 404) and may leave it holding what it would hold."""
    target = account(ctx.policy, user)
    authorize(by, MANAGE, target, hide=True)
    after = grant_of(
        ctx.policy,
        role=change.role or user.role,
        sites=user.sites if change.sites is None else change.sites,
        devices=user.devices if change.devices is None else change.devices,
    )
    authorize(by, MANAGE, replace(target, grants=after))


async def update_account(
    ctx: IdentityContext,
    *,
    user_id: str,
    change: AccountChange,
    by: Principal,
    address: str | None = None,
) -> User:
    """Change role, scope or disabled flag; applies to the next request of that user."""
    if change.role is not None:
        ctx.policy.require_role_or_invalid(change.role)
    if user_id == by.id and (change.disabled or change.role not in (None, "admin")):
        raise Forbidden("you cannot disable or demote your own account")
    fields = checked(change.profile)
    changed = {k: v for k, v in vars(change).items() if v is not None and k != "profile"}
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None:
            raise NotFound("no such user")
        _check_change(ctx, by, user, change)
        before = {name: getattr(user, name) for name in changed}
        for name, value in changed.items():
            setattr(user, name, value)
        if fields:
            await set_profile(ctx.fields, session, user, fields)
        if change.disabled:
            # For good: keys do not come back when the account is enabled again.
            await revoke_user_keys(
                ctx, session, user_id=user_id, reason="user_disabled", by=by, address=address
            )
        event = audit_event(
            "user.update",
            by=by,
            address=address,
            resource_type="user",
            resource_id=user_id,
            before=before,
            after=changed,
            profile=sorted(fields),
        )
        await append(ctx, session, event)
    if change.disabled:
        await end_all_sessions(ctx, user_id=user_id, reason="user_disabled", by=by)
    # Live connections re-check their access: a narrower role or scope closes them.
    await ctx.announce(user_id=user_id, reason="user_changed")
    emit(
        "user.changed",
        severity=Severity.MEDIUM,
        user_id=user_id,
        actor=by.id,
        profile=sorted(fields),
        **changed,
    )
    return user


async def delete_account(
    ctx: IdentityContext, *, user_id: str, by: Principal, address: str | None = None
) -> None:
    """Remove a user; their sessions end with them."""
    if user_id == by.id:
        raise Forbidden("you cannot delete your own account")
    # Checked before the sessions end, and again where the row is deleted.
    await read_account(ctx, user_id, by=by)
    await end_all_sessions(ctx, user_id=user_id, reason="user_deleted", by=by)
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None:
            raise NotFound("no such user")
        authorize(by, MANAGE, account(ctx.policy, user), hide=True)
        await session.delete(user)
        event = audit_event(
            "user.delete", by=by, address=address, resource_type="user", resource_id=user_id
        )
        await append(ctx, session, event)
    await ctx.announce(user_id=user_id, reason="user_deleted")
    emit("user.deleted", severity=Severity.MEDIUM, user_id=user_id, actor=by.id)


async def update_own_profile(
    ctx: IdentityContext,
    *,
    by: Principal,
    changes: Mapping[str, str | None],
    address: str | None = None,
) -> User:
    """One's own e-mail, display name or phone; audited by field name, never by value."""
    fields = checked(changes)
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=by.id)
        if user is None:
            raise NotFound("no such user")
        if fields:
            await set_profile(ctx.fields, session, user, fields)
        event = audit_event(
            "user.profile",
            by=by,
            address=address,
            resource_type="user",
            resource_id=user.id,
            profile=sorted(fields),
        )
        await append(ctx, session, event)
    return user
