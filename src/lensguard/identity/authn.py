"""Bearer credential → Principal, with the permissions and scope in force now.

Access tokens prove who signed in; the user row is read on every request, so a
role change, scope change or disabled account applies to the very next request.
API keys act for their owner with ``scopes ∩ owner's permissions``, re-checked
at each use.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal, PrincipalKind
from lensguard.audit import AuditEvent
from lensguard.errors import RateLimited, Unauthenticated
from lensguard.identity.apikeys import MalformedApiKey, verify_api_key
from lensguard.identity.apikeys import parse as parse_api_key
from lensguard.identity.auditing import record
from lensguard.identity.context import IdentityContext
from lensguard.identity.devices import device_principal
from lensguard.identity.revocation import session_key, token_key
from lensguard.store.api_keys import get_api_key, touch_last_used
from lensguard.store.devices import get_device
from lensguard.store.models import ApiKey, User
from lensguard.store.users import get_user

# What a restricted user (one-time password, MFA not yet enrolled) may still do:
# manage itself and fix the very credential that restricts it.
SELF_ONLY = frozenset({"account_self", "account_credentials"})
API_KEY_PREFIX = "lg_"
LAST_USED_GRANULARITY = timedelta(seconds=60)


PROVIDER_MFA_CLAIM = "mfa"
PROVIDER_MFA = "provider"
"""Access-token claim of a single sign-on session whose provider proved the second factor."""


def restrictions(ctx: IdentityContext, user: User, *, provider_mfa: bool = False) -> list[str]:
    """What the user must do before anything but self-service is allowed.

    ``provider_mfa``: the session's sign-in was a single sign-on whose second factor
    the provider vouched for (``amr``/``acr``, where its settings trust them).
    """
    pending = []
    if user.must_change_password:
        pending.append("password_change")
    if ctx.mfa_required(user.role) and user.totp_secret is None and not provider_mfa:
        pending.append("mfa_enrolment")
    return pending


def user_principal(
    ctx: IdentityContext,
    user: User,
    *,
    session_id: str | None,
    jti: str | None,
    provider_mfa: bool = False,
) -> Principal:
    """The principal for ``user`` as the database says now."""
    permissions = ctx.policy.grants(user.role)
    if restrictions(ctx, user, provider_mfa=provider_mfa):
        permissions = permissions & SELF_ONLY
    return Principal(
        kind=PrincipalKind.USER,
        id=user.id,
        name=user.username,
        role=user.role,
        permissions=permissions,
        sites=frozenset(user.sites),
        devices=frozenset(user.devices),
        session_id=session_id,
        token_jti=jti,
    )


def token_expiry(credential: str | None) -> int | None:
    """The ``exp`` (epoch seconds) of an access token already verified; None for API keys.

    Read without checking the signature: call only on a credential that
    ``authenticate_bearer`` accepted.
    """
    if not credential or credential.startswith(API_KEY_PREFIX):
        return None
    try:
        claims = jwt.decode(credential, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return exp if type(exp) is int else None


async def authenticate_bearer(ctx: IdentityContext, credential: str) -> Principal:
    """Verify an access token or API key; raises Unauthenticated (or RateLimited)."""
    if credential.startswith(API_KEY_PREFIX):
        return await _api_key_principal(ctx, credential)
    claims = await ctx.tokens.verify_access(credential)
    keys = [token_key(claims.jti)]
    if claims.session_id:
        keys.append(session_key(claims.session_id))
    if await ctx.revocations.any_revoked(keys):
        raise Unauthenticated("this session has been ended; sign in again")
    if claims.principal_kind == PrincipalKind.DEVICE:
        return await _device_token_principal(ctx, claims.subject, claims.extra, claims.jti)
    async with ctx.db.sessions() as session:
        user = await get_user(session, user_id=claims.subject)
    if user is None or user.disabled or claims.principal_kind != PrincipalKind.USER:
        raise Unauthenticated("invalid or expired access token")
    # Set only by our own signature, on sessions whose provider vouched for the factor.
    provider_mfa = claims.extra.get(PROVIDER_MFA_CLAIM) == PROVIDER_MFA
    return user_principal(
        ctx, user, session_id=claims.session_id, jti=claims.jti, provider_mfa=provider_mfa
    )


async def _device_token_principal(
    ctx: IdentityContext, device_id: str, extra: Mapping[str, Any], jti: str
) -> Principal:
    # The token is only as good as the credential it was minted from: a rotated or
    # revoked credential ends its tokens at once.
    key_id = extra.get("akid")
    async with ctx.db.sessions() as session:
        device = await get_device(session, device_id=device_id)
        key = await get_api_key(session, key_id=key_id) if isinstance(key_id, str) else None
    if (
        device is None
        or key is None
        or key.revoked_at is not None
        or key.owner_device_id != device.id
    ):
        raise Unauthenticated("invalid or expired access token")
    return device_principal(ctx, device, key=key, jti=jti)


async def _known_key_id(session: AsyncSession, presented: str) -> str | None:
    """The key id of a presented key when such a key exists, else None."""
    try:
        key_id, _secret = parse_api_key(presented)
    except MalformedApiKey:
        return None
    return key_id if await get_api_key(session, key_id=key_id) is not None else None


async def _api_key_principal(ctx: IdentityContext, presented: str) -> Principal:
    now = ctx.clock.now()
    async with ctx.db.sessions() as session:
        key: ApiKey | None = None
        denied: str | None = None
        try:
            key = await verify_api_key(session, pepper=ctx.pepper, presented=presented, now=now)
        except Unauthenticated:
            denied = await _known_key_id(session, presented)
        owner = None
        device = None
        if key is not None:
            if key.owner_user_id:
                owner = await get_user(session, user_id=key.owner_user_id)
            if key.owner_device_id:
                device = await get_device(session, device_id=key.owner_device_id)
    if key is None:
        if denied is not None:
            # A real key refused (wrong secret, revoked, expired): on the record.
            await record(
                ctx,
                AuditEvent(
                    action="apikey.use_denied",
                    outcome="denied",
                    actor_type="api_key",
                    actor_id=denied,
                ),
            )
        raise Unauthenticated("invalid API key")
    if device is None and (owner is None or owner.disabled):
        raise Unauthenticated("invalid API key")
    # Counted outside any transaction: a slow shared store never holds a database lock.
    decision = await ctx.api_key_limiter.hit(
        f"apikey:{key.id}", limit=key.rate_limit_per_minute, window=60
    )
    if not decision.allowed:
        raise RateLimited(
            f"API key limited to {key.rate_limit_per_minute} requests a minute",
            retry_after=decision.retry_after,
        )
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
        async with ctx.db.transaction() as session:
            await touch_last_used(session, key_id=key.id, at=now)
    if device is not None:
        return device_principal(ctx, device, key=key, jti=None)
    if owner is None:  # unreachable: checked above; keeps the types honest
        raise Unauthenticated("invalid API key")
    base = user_principal(ctx, owner, session_id=None, jti=None)
    return Principal(
        kind=PrincipalKind.API_KEY,
        id=owner.id,
        name=owner.username,
        role=owner.role,
        permissions=frozenset(key.scopes) & base.permissions,
        sites=base.sites,
        devices=base.devices,
        api_key_id=key.id,
    )
