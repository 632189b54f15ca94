"""Changing one's own credentials: password and MFA.

Each change proves the caller again, right now: the current password always, and
a current one-time code (TOTP or recovery code) wherever MFA is already on and the
change would replace or remove it. A stolen access token alone therefore cannot
take over an account. Who may call these at all is decided by ``can()``: the
``account_credentials`` action is person-only, so API keys never change
credentials. Every check is throttled like sign-in (``identity/attempts.py``);
slow hashing and checks happen before any transaction opens.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal
from lensguard.errors import LensguardError, NotFound, Unauthenticated, ValidationFailed
from lensguard.identity import totp
from lensguard.identity.attempts import Attempt, MfaRequired
from lensguard.identity.auditing import append, audit_event, record
from lensguard.identity.context import IdentityContext
from lensguard.identity.factors import claim_factor, issue_recovery_codes
from lensguard.identity.key_revocation import announce_revoked, revoke_user_keys
from lensguard.identity.login import end_all_sessions
from lensguard.identity.password_policy import check_password
from lensguard.identity.passwords import hash_password
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store import recovery_codes
from lensguard.store import users as repo
from lensguard.store.models import User

CODE_NEEDED = "MFA is on: enter a current code from your authenticator app, or a recovery code"
STALE = "the account changed meanwhile; start again"


@dataclass(frozen=True)
class PasswordChangeResult:
    sessions_ended: int
    api_keys_revoked: int


async def _user(ctx: IdentityContext, user_id: str) -> User:
    async with ctx.db.sessions() as session:
        user = await repo.get_user(session, user_id=user_id)
    if user is None:
        raise NotFound("no such user")
    return user


async def _refuse(
    ctx: IdentityContext,
    attempt: Attempt,
    *,
    action: str,
    by: Principal,
    reason: str,
    error: Unauthenticated,
) -> LensguardError:
    """Count, log and audit a wrong password or code; what the caller must raise."""
    await attempt.failed()
    emit(f"{action}_failed", severity=Severity.MEDIUM, user_id=by.id, reason=reason)
    event = audit_event(
        action,
        "failure",
        by=by,
        address=attempt.address,
        resource_type="user",
        resource_id=by.id,
        reason=reason,
    )
    await record(ctx, event)
    return attempt.refusal(error)


async def _prove(
    ctx: IdentityContext,
    user: User,
    *,
    action: str,
    by: Principal,
    password: str,
    code: str | None,
    code_required: bool,
    address: str,
) -> Attempt:
    """Check the password, then the code where MFA is on; raises on any failure."""
    attempt = await Attempt.begin(ctx, user.username, address)
    if not await attempt.password(user.password_hash, password):
        wrong = Unauthenticated("the current password is wrong")
        raise await _refuse(ctx, attempt, action=action, by=by, reason="bad_password", error=wrong)
    if user.totp_secret is not None and (code or code_required):
        if not code:
            raise attempt.refusal(MfaRequired(CODE_NEEDED))
        if await attempt.factor(user, code) is None:
            wrong = Unauthenticated("invalid one-time code")
            raise await _refuse(ctx, attempt, action=action, by=by, reason="bad_code", error=wrong)
    attempt.admit()
    return attempt


async def _claim(ctx: IdentityContext, session: AsyncSession, attempt: Attempt, user: User) -> None:
    factor = attempt.proven
    if factor is not None and not await claim_factor(
        ctx, session, user=user, factor=factor, address=attempt.address
    ):
        raise Unauthenticated("invalid one-time code")  # spent by a concurrent request


async def change_password(
    ctx: IdentityContext,
    *,
    by: Principal,
    current: str,
    new: str,
    code: str | None = None,
    revoke_api_keys: bool = False,
    keep_session: str | None,
    address: str,
) -> PasswordChangeResult:
    """Verify the current password, set the new one, end every other session.

    API keys are revoked when asked, and always when the change was forced (a
    one-time password): keys made under it must not outlive it.
    """
    user = await _user(ctx, by.id)
    attempt = await _prove(
        ctx,
        user,
        action="auth.password_change",
        by=by,
        password=current,
        code=code,
        code_required=False,
        address=address,
    )
    if current == new:
        raise ValidationFailed(
            "the new password must differ from the current one",
            errors=[{"field": "new_password", "message": "same as current", "type": "reuse"}],
        )
    check_password(new, username=user.username)
    hashed = await asyncio.to_thread(hash_password, ctx.hasher, new)
    async with ctx.db.transaction() as session:
        await _claim(ctx, session, attempt, user)
        stored = await repo.get_user(session, user_id=by.id)
        if stored is None:
            raise NotFound("no such user")
        forced = stored.must_change_password
        stored.password_hash, stored.must_change_password = hashed, False
        revoked: list[str] = []
        if forced or revoke_api_keys:
            reason = "forced_password_change" if forced else "password_changed"
            revoked = await revoke_user_keys(
                ctx, session, user_id=by.id, reason=reason, by=by, address=address
            )
        event = audit_event(
            "auth.password_change",
            by=by,
            address=address,
            resource_type="user",
            resource_id=by.id,
            forced=forced,
            api_keys_revoked=len(revoked),
        )
        await append(ctx, session, event)
    await attempt.succeeded(by.id)
    await announce_revoked(ctx, revoked, reason="password_changed")
    ended = await end_all_sessions(
        ctx, user_id=by.id, reason="password_changed", keep=keep_session, by=by
    )
    emit(
        "auth.password_changed",
        severity=Severity.MEDIUM,
        user_id=by.id,
        sessions_ended=ended,
        api_keys_revoked=len(revoked),
    )
    return PasswordChangeResult(sessions_ended=ended, api_keys_revoked=len(revoked))


async def mfa_enrol(
    ctx: IdentityContext, *, by: Principal, password: str, code: str | None, address: str
) -> tuple[str, str]:
    """Start TOTP enrolment: a new pending secret and its otpauth:// URI.

    Needs the password; replacing an enrolled authenticator also needs a current code.
    """
    user = await _user(ctx, by.id)
    attempt = await _prove(
        ctx,
        user,
        action="auth.mfa_enrol",
        by=by,
        password=password,
        code=code,
        code_required=True,
        address=address,
    )
    secret = totp.new_secret()
    async with ctx.db.transaction() as session:
        await _claim(ctx, session, attempt, user)
        stored = await repo.get_user(session, user_id=by.id)
        if stored is None:
            raise NotFound("no such user")
        stored.totp_pending = totp.wrap_secret(ctx.wrap_key, stored.id, secret)
        uri = totp.provisioning_uri(secret, username=stored.username)
        event = audit_event(
            "auth.mfa_enrol",
            by=by,
            address=address,
            resource_type="user",
            resource_id=by.id,
            replacing=stored.totp_secret is not None,
        )
        await append(ctx, session, event)
    await attempt.succeeded(by.id)
    emit("auth.mfa_enrolment_started", user_id=by.id)
    return secret, uri


async def mfa_confirm(ctx: IdentityContext, *, by: Principal, code: str, address: str) -> list[str]:
    """Finish enrolment with a code from the new secret; new recovery codes, shown once.

    The pending secret exists only after ``mfa_enrol`` proved the caller, and its
    code is a second factor in itself, so no further proof is asked here.
    """
    user = await _user(ctx, by.id)
    if user.totp_pending is None:
        raise ValidationFailed(
            "no enrolment in progress; start with POST /api/v1/auth/mfa/enrol",
            errors=[{"field": "code", "message": "no pending enrolment", "type": "state"}],
        )
    attempt = await Attempt.begin(ctx, user.username, address)
    secret = totp.unwrap_secret(ctx.wrap_key, user.id, user.totp_pending)
    step = totp.verify_code(secret, code, at=ctx.clock.time())
    if step is None:
        wrong = Unauthenticated("invalid one-time code")
        raise await _refuse(
            ctx, attempt, action="auth.mfa_enable", by=by, reason="bad_code", error=wrong
        )
    async with ctx.db.transaction() as session:
        stored = await repo.get_user(session, user_id=by.id)
        if stored is None or stored.totp_pending != user.totp_pending:
            raise ValidationFailed(
                STALE,
                errors=[{"field": "code", "message": "enrolment changed", "type": "state"}],
            )
        replaced = stored.totp_secret is not None
        stored.totp_secret, stored.totp_pending, stored.totp_last_step = (
            stored.totp_pending,
            None,
            step,
        )
        codes = await issue_recovery_codes(ctx, session, user_id=by.id)
        event = audit_event(
            "auth.mfa_enable",
            by=by,
            address=address,
            resource_type="user",
            resource_id=by.id,
            replaced=replaced,
            recovery_codes=len(codes),
        )
        await append(ctx, session, event)
    await attempt.succeeded(by.id)
    emit("auth.mfa_enabled", severity=Severity.MEDIUM, user_id=by.id, replaced=replaced)
    return codes


async def mfa_disable(
    ctx: IdentityContext, *, by: Principal, password: str, code: str, address: str
) -> None:
    """Turn MFA off; needs the password and a current code (or a recovery code)."""
    user = await _user(ctx, by.id)
    if user.totp_secret is None:
        raise NotFound("MFA is not enabled")
    attempt = await _prove(
        ctx,
        user,
        action="auth.mfa_disable",
        by=by,
        password=password,
        code=code,
        code_required=True,
        address=address,
    )
    async with ctx.db.transaction() as session:
        await _claim(ctx, session, attempt, user)
        stored = await repo.get_user(session, user_id=by.id)
        if stored is None:
            raise NotFound("no such user")
        stored.totp_secret = stored.totp_pending = stored.totp_last_step = None
        await recovery_codes.delete_codes(session, user_id=by.id)
        event = audit_event(
            "auth.mfa_disable", by=by, address=address, resource_type="user", resource_id=by.id
        )
        await append(ctx, session, event)
    await attempt.succeeded(by.id)
    emit("auth.mfa_disabled", severity=Severity.HIGH, user_id=by.id)
