"""Account changes: users, passwords, MFA. Each change that narrows access ends sessions.

Every change is audited in the transaction that makes it; slow password hashing
and checks happen before that transaction opens.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from lensguard.access.principal import Principal
from lensguard.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from lensguard.identity import totp
from lensguard.identity.auditing import append, audit_event, record
from lensguard.identity.context import IdentityContext
from lensguard.identity.login import end_all_sessions
from lensguard.identity.password_policy import check_password
from lensguard.identity.passwords import hash_password, verify_password
from lensguard.monitor.events import emit
from lensguard.settings import Severity
from lensguard.store import users as repo
from lensguard.store.models import User


async def create_account(
    ctx: IdentityContext,
    *,
    username: str,
    password: str,
    role: str | None,
    sites: list[str],
    devices: list[str],
    by: Principal | None,
    address: str | None = None,
) -> User:
    """Create a user (default role from settings); the password must pass the policy."""
    role = ctx.policy.require_role_or_invalid(
        role or ctx.settings.security.access_control.default_role
    )
    check_password(password, username=username)
    hashed = await asyncio.to_thread(hash_password, ctx.hasher, password)
    async with ctx.db.transaction() as session:
        user = await repo.create_user(session, username=username, password_hash=hashed, role=role)
        user.sites, user.devices = sites, devices
        await session.flush()
        event = audit_event(
            "user.create",
            by=by,
            address=address,
            resource_type="user",
            resource_id=user.id,
            role=role,
            sites=sites,
            devices=devices,
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


@dataclass(frozen=True)
class AccountChange:
    role: str | None = None
    disabled: bool | None = None
    sites: list[str] | None = None
    devices: list[str] | None = None


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
    changed = {k: v for k, v in vars(change).items() if v is not None}
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None:
            raise NotFound("no such user")
        before = {name: getattr(user, name) for name in changed}
        for name, value in changed.items():
            setattr(user, name, value)
        event = audit_event(
            "user.update",
            by=by,
            address=address,
            resource_type="user",
            resource_id=user_id,
            before=before,
            after=changed,
        )
        await append(ctx, session, event)
    if change.disabled:
        await end_all_sessions(ctx, user_id=user_id, reason="user_disabled", by=by)
    # Live connections re-check their access: a narrower role or scope closes them.
    await ctx.announce(user_id=user_id, reason="user_changed")
    emit("user.changed", severity=Severity.MEDIUM, user_id=user_id, actor=by.id, **changed)
    return user


async def delete_account(
    ctx: IdentityContext, *, user_id: str, by: Principal, address: str | None = None
) -> None:
    """Remove a user; their sessions end with them."""
    if user_id == by.id:
        raise Forbidden("you cannot delete your own account")
    await end_all_sessions(ctx, user_id=user_id, reason="user_deleted", by=by)
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None:
            raise NotFound("no such user")
        await session.delete(user)
        event = audit_event(
            "user.delete", by=by, address=address, resource_type="user", resource_id=user_id
        )
        await append(ctx, session, event)
    await ctx.announce(user_id=user_id, reason="user_deleted")
    emit("user.deleted", severity=Severity.MEDIUM, user_id=user_id, actor=by.id)


async def change_password(
    ctx: IdentityContext,
    *,
    by: Principal,
    current: str,
    new: str,
    keep_session: str | None,
    address: str | None = None,
) -> int:
    """Verify the current password, set the new one, end every other session."""
    user = await get_account(ctx, by.id)
    ok = await asyncio.to_thread(verify_password, ctx.hasher, user.password_hash, current)
    if not ok:
        emit("auth.password_change_failed", severity=Severity.MEDIUM, user_id=by.id)
        await record(
            ctx,
            audit_event(
                "auth.password_change",
                "failure",
                by=by,
                address=address,
                resource_type="user",
                resource_id=by.id,
            ),
        )
        raise Unauthenticated("the current password is wrong")
    if current == new:
        raise ValidationFailed(
            "the new password must differ from the current one",
            errors=[{"field": "new_password", "message": "same as current", "type": "reuse"}],
        )
    check_password(new, username=user.username)
    hashed = await asyncio.to_thread(hash_password, ctx.hasher, new)
    async with ctx.db.transaction() as session:
        await repo.set_password_hash(session, user_id=by.id, password_hash=hashed)
        stored = await repo.get_user(session, user_id=by.id)
        if stored is None:
            raise NotFound("no such user")
        stored.must_change_password = False
        await append(
            ctx,
            session,
            audit_event(
                "auth.password_change",
                by=by,
                address=address,
                resource_type="user",
                resource_id=by.id,
            ),
        )
    ended = await end_all_sessions(
        ctx, user_id=by.id, reason="password_changed", keep=keep_session, by=by
    )
    emit("auth.password_changed", severity=Severity.MEDIUM, user_id=by.id, sessions_ended=ended)
    return ended


async def mfa_enrol(ctx: IdentityContext, *, by: Principal) -> tuple[str, str]:
    """Start TOTP enrolment: a new pending secret and its otpauth:// URI."""
    secret = totp.new_secret()
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=by.id)
        if user is None:
            raise NotFound("no such user")
        user.totp_pending = totp.wrap_secret(ctx.wrap_key, user.id, secret)
        uri = totp.provisioning_uri(secret, username=user.username)
        await append(
            ctx,
            session,
            audit_event("auth.mfa_enrol", by=by, resource_type="user", resource_id=by.id),
        )
    emit("auth.mfa_enrolment_started", user_id=by.id)
    return secret, uri


async def mfa_confirm(ctx: IdentityContext, *, by: Principal, code: str) -> None:
    """Finish enrolment with a code from the new secret."""
    user = await get_account(ctx, by.id)
    if user.totp_pending is None:
        raise ValidationFailed(
            "no enrolment in progress; start with POST /api/v1/auth/mfa/enrol",
            errors=[{"field": "code", "message": "no pending enrolment", "type": "state"}],
        )
    secret = totp.unwrap_secret(ctx.wrap_key, user.id, user.totp_pending)
    step = totp.verify_code(secret, code)
    if step is None:
        raise Unauthenticated("invalid one-time code")
    async with ctx.db.transaction() as session:
        stored = await repo.get_user(session, user_id=by.id)
        if stored is None or stored.totp_pending != user.totp_pending:
            raise ValidationFailed(
                "the enrolment changed meanwhile; start again",
                errors=[{"field": "code", "message": "enrolment changed", "type": "state"}],
            )
        stored.totp_secret, stored.totp_pending, stored.totp_last_step = (
            stored.totp_pending,
            None,
            step,
        )
        await append(
            ctx,
            session,
            audit_event("auth.mfa_enable", by=by, resource_type="user", resource_id=by.id),
        )
    emit("auth.mfa_enabled", severity=Severity.MEDIUM, user_id=by.id)


async def mfa_disable(ctx: IdentityContext, *, by: Principal, code: str) -> None:
    """Turn TOTP off; needs a current code."""
    user = await get_account(ctx, by.id)
    if user.totp_secret is None:
        raise NotFound("MFA is not enabled")
    secret = totp.unwrap_secret(ctx.wrap_key, user.id, user.totp_secret)
    step = totp.verify_code(secret, code, last_used_step=user.totp_last_step)
    if step is None:
        raise Unauthenticated("invalid one-time code")
    async with ctx.db.transaction() as session:
        if not await repo.claim_totp_step(session, user_id=by.id, step=step):
            raise Unauthenticated("invalid one-time code")
        stored = await repo.get_user(session, user_id=by.id)
        if stored is None:
            raise NotFound("no such user")
        stored.totp_secret = None
        stored.totp_last_step = None
        await append(
            ctx,
            session,
            audit_event("auth.mfa_disable", by=by, resource_type="user", resource_id=by.id),
        )
    emit("auth.mfa_disabled", severity=Severity.HIGH, user_id=by.id)
