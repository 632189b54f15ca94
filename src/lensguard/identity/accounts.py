"""Account changes: users, passwords, MFA. Each change that narrows access ends sessions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from lensguard.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from lensguard.identity import totp
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
    actor: str,
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
    emit("user.created", user_id=user.id, username=username, role=role, actor=actor)
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
    ctx: IdentityContext, *, user_id: str, change: AccountChange, actor_id: str
) -> User:
    """Change role, scope or disabled flag; applies to the next request of that user."""
    if change.role is not None:
        ctx.policy.require_role_or_invalid(change.role)
    if user_id == actor_id and (change.disabled or change.role not in (None, "admin")):
        raise Forbidden("you cannot disable or demote your own account")
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None:
            raise NotFound("no such user")
        for name in ("role", "disabled", "sites", "devices"):
            value = getattr(change, name)
            if value is not None:
                setattr(user, name, value)
    if change.disabled:
        await end_all_sessions(ctx, user_id=user_id, reason="user_disabled")
    # Live connections re-check their access: a narrower role or scope closes them.
    await ctx.announce(user_id=user_id, reason="user_changed")
    emit(
        "user.changed",
        severity=Severity.MEDIUM,
        user_id=user_id,
        actor=actor_id,
        role=change.role,
        disabled=change.disabled,
        sites=change.sites,
        devices=change.devices,
    )
    return user


async def delete_account(ctx: IdentityContext, *, user_id: str, actor_id: str) -> None:
    """Remove a user; their sessions end with them."""
    if user_id == actor_id:
        raise Forbidden("you cannot delete your own account")
    await end_all_sessions(ctx, user_id=user_id, reason="user_deleted")
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None:
            raise NotFound("no such user")
        await session.delete(user)
    await ctx.announce(user_id=user_id, reason="user_deleted")
    emit("user.deleted", severity=Severity.MEDIUM, user_id=user_id, actor=actor_id)


async def change_password(
    ctx: IdentityContext, *, user_id: str, current: str, new: str, keep_session: str | None
) -> int:
    """Verify the current password, set the new one, end every other session."""
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None:
            raise NotFound("no such user")
        ok = await asyncio.to_thread(verify_password, ctx.hasher, user.password_hash, current)
        if not ok:
            emit("auth.password_change_failed", severity=Severity.MEDIUM, user_id=user_id)
            raise Unauthenticated("the current password is wrong")
        if current == new:
            raise ValidationFailed(
                "the new password must differ from the current one",
                errors=[{"field": "new_password", "message": "same as current", "type": "reuse"}],
            )
        check_password(new, username=user.username)
        user.password_hash = await asyncio.to_thread(hash_password, ctx.hasher, new)
        user.must_change_password = False
    ended = await end_all_sessions(
        ctx, user_id=user_id, reason="password_changed", keep=keep_session
    )
    emit("auth.password_changed", severity=Severity.MEDIUM, user_id=user_id, sessions_ended=ended)
    return ended


async def mfa_enrol(ctx: IdentityContext, *, user_id: str) -> tuple[str, str]:
    """Start TOTP enrolment: a new pending secret and its otpauth:// URI."""
    secret = totp.new_secret()
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None:
            raise NotFound("no such user")
        user.totp_pending = totp.wrap_secret(ctx.wrap_key, user.id, secret)
        uri = totp.provisioning_uri(secret, username=user.username)
    emit("auth.mfa_enrolment_started", user_id=user_id)
    return secret, uri


async def mfa_confirm(ctx: IdentityContext, *, user_id: str, code: str) -> None:
    """Finish enrolment with a code from the new secret."""
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None or user.totp_pending is None:
            raise ValidationFailed(
                "no enrolment in progress; start with POST /api/v1/auth/mfa/enrol",
                errors=[{"field": "code", "message": "no pending enrolment", "type": "state"}],
            )
        secret = totp.unwrap_secret(ctx.wrap_key, user.id, user.totp_pending)
        step = totp.verify_code(secret, code)
        if step is None:
            raise Unauthenticated("invalid one-time code")
        user.totp_secret, user.totp_pending, user.totp_last_step = user.totp_pending, None, step
    emit("auth.mfa_enabled", severity=Severity.MEDIUM, user_id=user_id)


async def mfa_disable(ctx: IdentityContext, *, user_id: str, code: str) -> None:
    """Turn TOTP off; needs a current code."""
    async with ctx.db.transaction() as session:
        user = await repo.get_user(session, user_id=user_id)
        if user is None or user.totp_secret is None:
            raise NotFound("MFA is not enabled")
        secret = totp.unwrap_secret(ctx.wrap_key, user.id, user.totp_secret)
        if totp.verify_code(secret, code, last_used_step=user.totp_last_step) is None:
            raise Unauthenticated("invalid one-time code")
        user.totp_secret = None
        user.totp_last_step = None
    emit("auth.mfa_disabled", severity=Severity.HIGH, user_id=user_id)
