"""Sign-in, refresh and sign-out flows."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from lensguard.access.principal import Principal, PrincipalKind
from lensguard.audit import AuditEvent
from lensguard.errors import Unauthenticated
from lensguard.identity import refresh as refresh_tokens
from lensguard.identity.attempts import Attempt, MfaRequired
from lensguard.identity.auditing import append, audit_event, record
from lensguard.identity.authn import PROVIDER_MFA, PROVIDER_MFA_CLAIM, restrictions
from lensguard.identity.context import IdentityContext
from lensguard.identity.factors import claim_factor
from lensguard.identity.passwords import hash_password
from lensguard.identity.profile import user_by_email
from lensguard.identity.revocation import session_key
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store.models import LoginSession, OidcSession, User
from lensguard.store.usernames import fold
from lensguard.store.users import get_user, get_user_by_username, set_password_hash

BAD_CREDENTIALS = "invalid username or password"


@dataclass(frozen=True)
class TokenPair:
    """What a successful sign-in or refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    restrictions: list[str] = field(default_factory=list)


async def _issue(
    ctx: IdentityContext,
    user: User,
    login: LoginSession,
    refresh: str,
    *,
    provider_mfa: bool = False,
) -> TokenPair:
    extra: dict[str, Any] = {"role": user.role}
    if provider_mfa:
        extra[PROVIDER_MFA_CLAIM] = PROVIDER_MFA
    issued = await ctx.tokens.issue_access(
        subject=user.id,
        session_id=login.id,
        principal_kind=PrincipalKind.USER,
        extra_claims=extra,
    )
    return TokenPair(
        access_token=issued.token,
        refresh_token=refresh,
        expires_in=ctx.access_lifetime,
        session_id=login.id,
        restrictions=restrictions(ctx, user, provider_mfa=provider_mfa),
    )


async def issue(
    ctx: IdentityContext, user: User, login: LoginSession, refresh: str, *, provider_mfa: bool
) -> TokenPair:
    """The tokens of a session that just started (single sign-on ends here too)."""
    return await _issue(ctx, user, login, refresh, provider_mfa=provider_mfa)


async def login(
    ctx: IdentityContext,
    *,
    username: str,
    password: str,
    code: str | None,
    address: str,
    user_agent: str | None,
) -> TokenPair:
    """Check the password (and a TOTP or recovery code), start a session, issue tokens."""
    # Names are stored folded: "Admin" signs in as "admin", and is throttled as one name.
    username = fold(username)
    # Read, then hash outside any transaction: SQLite's write lock is never held
    # across the deliberately slow password check.
    async with ctx.db.sessions() as session:
        user = await get_user_by_username(session, username=username)
        if user is None and "@" in username:
            # Usernames never hold "@": this is an e-mail address, found by its blind index.
            user = await user_by_email(ctx.fields, session, username)
    if user is not None:
        # Throttled and audited under the account's name, however the person named it.
        username = user.username
    attempt = await Attempt.begin(ctx, username, address)
    stored = user.password_hash if user is not None else ctx.dummy_hash
    ok = await attempt.password(stored, password)
    if user is None or not ok or user.disabled or not user.password_login:
        await _failed(attempt, "auth.login_failed")
        reason = "unknown_user" if user is None else "bad_password"
        if user is not None and ok:
            reason = "disabled" if user.disabled else "password_login_off"
        await record(ctx, _login_event("failure", user, username, address, reason=reason))
        raise attempt.refusal(Unauthenticated(BAD_CREDENTIALS))
    factor = None
    if user.totp_secret is not None:
        if not code:
            raise attempt.refusal(
                MfaRequired(
                    "enter the 6-digit code from your authenticator app, or a recovery code"
                )
            )
        factor = await attempt.factor(user, code)
        if factor is None:
            await _failed(attempt, "auth.mfa_failed")
            await record(ctx, _login_event("failure", user, username, address, reason="bad_code"))
            raise attempt.refusal(Unauthenticated("invalid one-time code"))
    attempt.admit()
    rehashed = None
    if ctx.hasher.check_needs_rehash(user.password_hash):
        rehashed = await asyncio.to_thread(hash_password, ctx.hasher, password)
    async with ctx.db.transaction() as session:
        if factor is not None and not await claim_factor(
            ctx, session, user=user, factor=factor, address=address
        ):
            raise Unauthenticated("invalid one-time code")  # replayed by a concurrent sign-in
        if rehashed is not None:
            await set_password_hash(session, user_id=user.id, password_hash=rehashed)
        login_session, refresh = await refresh_tokens.start_session(
            session,
            key=ctx.refresh_key,
            fields=ctx.fields,
            user_id=user.id,
            lifetime=ctx.settings.security.authentication.refresh_token_expiry,
            client_address=address,
            user_agent=user_agent,
            now=ctx.clock.now(),
        )
        details: dict[str, Any] = {"mfa": factor is not None}
        if factor is not None:
            details["factor"] = factor.kind.value
        event = _login_event("success", user, username, address, **details)
        await append(ctx, session, replace(event, resource_id=login_session.id))
    await attempt.succeeded(user.id)
    emit("auth.login_succeeded", username=username, user_id=user.id, address=address)
    return await _issue(ctx, user, login_session, refresh)


def _login_event(
    outcome: str, user: User | None, username: str, address: str, **details: Any
) -> AuditEvent:
    # The attempted name is what an investigator needs, known account or not.
    return AuditEvent(
        action="auth.login",
        outcome=outcome,
        actor_type="user" if user is not None else "anonymous",
        actor_id=user.id if user is not None else None,
        actor_name=username,
        source_address=address,
        resource_type="session",
        details=details,
    )


async def _failed(attempt: Attempt, event: str) -> None:
    await attempt.failed()
    emit(event, severity=Severity.MEDIUM, username=attempt.username, address=attempt.address)


async def refresh(ctx: IdentityContext, *, presented: str, address: str) -> TokenPair:
    """Rotate a refresh token; reuse revokes the whole family."""
    async with ctx.db.transaction() as session:
        outcome = await refresh_tokens.rotate(
            session, key=ctx.refresh_key, presented=presented, now=ctx.clock.now()
        )
        user = None
        provider_mfa = False
        if outcome.status is refresh_tokens.RefreshStatus.OK and outcome.login is not None:
            user = await get_user(session, user_id=outcome.login.user_id)
            sso = await session.get(OidcSession, outcome.login.id)
            provider_mfa = sso is not None and sso.mfa_by_provider
        if outcome.login is not None and outcome.status is not refresh_tokens.RefreshStatus.INVALID:
            reused = outcome.status is refresh_tokens.RefreshStatus.REUSED
            await append(
                ctx,
                session,
                AuditEvent(
                    action="auth.refresh_reuse" if reused else "auth.refresh",
                    outcome="denied" if reused else "success",
                    actor_type="user",
                    actor_id=outcome.login.user_id,
                    source_address=address,
                    resource_type="session",
                    resource_id=outcome.login.id,
                    details={"family_revoked": True} if reused else {},
                ),
            )
    if outcome.status is refresh_tokens.RefreshStatus.REUSED and outcome.login is not None:
        await ctx.revocations.revoke(session_key(outcome.login.id), ttl=ctx.revocation_ttl)
        await ctx.announce(sid=outcome.login.id, reason="refresh_token_reuse")
        emit(
            "auth.refresh_reuse_detected",
            severity=Severity.HIGH,
            session_id=outcome.login.id,
            user_id=outcome.login.user_id,
            address=address,
        )
        raise Unauthenticated("refresh token already used; the session has been ended")
    if user is None or user.disabled or outcome.login is None or outcome.token is None:
        emit("auth.refresh_failed", severity=Severity.LOW, address=address)
        raise Unauthenticated("invalid or expired refresh token")
    emit("auth.refreshed", user_id=user.id, session_id=outcome.login.id)
    return await _issue(ctx, user, outcome.login, outcome.token, provider_mfa=provider_mfa)


async def end_session(
    ctx: IdentityContext,
    *,
    session_id: str,
    reason: str,
    by: Principal | None = None,
    address: str | None = None,
) -> bool:
    """Revoke a session in the database and the revocation store; False if already ended."""
    async with ctx.db.transaction() as session:
        login_session = await refresh_tokens.get_session(session, session_id=session_id)
        changed = login_session is not None and await refresh_tokens.revoke_session(
            session, login=login_session, reason=reason, now=ctx.clock.now()
        )
        if changed and login_session is not None:
            event = audit_event(
                "auth.session_end",
                by=by,
                address=address,
                resource_type="session",
                resource_id=session_id,
                reason=reason,
                owner=login_session.user_id,
            )
            await append(ctx, session, event)
    await ctx.revocations.revoke(session_key(session_id), ttl=ctx.revocation_ttl)
    await ctx.announce(sid=session_id, reason=reason)
    if changed:
        emit("auth.session_ended", session_id=session_id, reason=reason)
    return changed


async def end_all_sessions(
    ctx: IdentityContext,
    *,
    user_id: str,
    reason: str,
    keep: str | None = None,
    by: Principal | None = None,
) -> int:
    """End every active session of ``user_id`` except ``keep``; how many were ended."""
    async with ctx.db.sessions() as session:
        active = await refresh_tokens.list_sessions(session, user_id=user_id, now=ctx.clock.now())
    ended = 0
    for login_session in active:
        if login_session.id != keep:
            ended += await end_session(ctx, session_id=login_session.id, reason=reason, by=by)
    return ended
