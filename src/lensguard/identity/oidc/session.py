"""Redeeming a one-time login code for the same tokens a password sign-in gets.

The code is single use (removed with a compare-and-delete, so of two redemptions one
wins) and works only with the binding cookie set on the callback's redirect. When the
account has local TOTP and the provider's ``amr``/``acr`` are not trusted as MFA, the
code must come with a one-time code, checked and throttled as at password sign-in.
The session stores the provider's ``sid`` for back-channel logout.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from lensguard.audit import AuditEvent
from lensguard.identity import refresh as refresh_tokens
from lensguard.identity.attempts import Attempt, MfaRequired
from lensguard.identity.auditing import append
from lensguard.identity.context import IdentityContext
from lensguard.identity.factors import claim_factor
from lensguard.identity.login import TokenPair, issue
from lensguard.identity.oidc.errors import SsoRefused
from lensguard.identity.oidc.flow import code_key
from lensguard.identity.oidc.room import OidcRoom
from lensguard.monitor.events import emit
from lensguard.store.models import OidcSession
from lensguard.store.users import get_user

MAX_CODE_CHARS = 128


async def exchange(
    ctx: IdentityContext,
    room: OidcRoom,
    *,
    login_code: str,
    binding: str | None,
    code: str | None,
    address: str,
    user_agent: str | None,
) -> TokenPair:
    """Start the session a finished sign-in earned; refusals raise ``SsoRefused``."""
    key = code_key(login_code[:MAX_CODE_CHARS])
    stored = await room.store.get(key)
    if stored is None:
        raise SsoRefused("the sign-in code is unknown, used or expired", reason="login_code")
    pending: dict[str, Any] = json.loads(stored)
    seen = hashlib.sha256((binding or "").encode()).hexdigest()
    if not binding or not hmac.compare_digest(seen, str(pending["b"])):
        raise SsoRefused("the sign-in code belongs to another browser", reason="login_binding")
    provider = room.provider(str(pending["p"]))
    async with ctx.db.sessions() as session:
        user = await get_user(session, user_id=str(pending["u"]))
    if user is None or user.disabled:
        await room.store.delete(key)
        raise SsoRefused("the account is disabled", reason="disabled")
    attempt = await Attempt.begin(ctx, user.username, address)
    factor = None
    if user.totp_secret is not None and not pending["m"]:
        if not code:
            raise MfaRequired(
                "enter the 6-digit code from your authenticator app, or a recovery code"
            )
        factor = await attempt.factor(user, code)
        if factor is None:
            await attempt.failed()
            raise SsoRefused("invalid one-time code", reason="bad_code")
    if not await room.store.delete_if(key, stored):
        raise SsoRefused("the sign-in code is unknown, used or expired", reason="login_code")
    async with ctx.db.transaction() as session:
        if factor is not None and not await claim_factor(
            ctx, session, user=user, factor=factor, address=address
        ):
            raise SsoRefused("invalid one-time code", reason="bad_code")
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
        session.add(
            OidcSession(
                session_id=login_session.id,
                issuer=provider.settings.issuer,
                subject=str(pending["sub"]),
                sid=pending.get("sid"),
                mfa_by_provider=bool(pending["m"]),
                created_at=ctx.clock.now(),
            )
        )
        details: dict[str, Any] = {
            "via": "oidc",
            "provider": provider.name,
            "account": pending["how"],
            "mfa": factor is not None or bool(pending["m"]),
            "mfa_by_provider": bool(pending["m"]),
        }
        await append(
            ctx,
            session,
            AuditEvent(
                action="auth.login",
                outcome="success",
                actor_type="user",
                actor_id=user.id,
                actor_name=user.username,
                source_address=address,
                resource_type="session",
                resource_id=login_session.id,
                details=details,
            ),
        )
    await attempt.succeeded(user.id)
    emit(
        "auth.login_succeeded", username=user.username, user_id=user.id, address=address, via="oidc"
    )
    return await issue(ctx, user, login_session, refresh, provider_mfa=bool(pending["m"]))
