"""Logout both ways: the provider ending our sessions, and us sending the browser there.

Back-channel (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a logout
token; once it validates (``tokens.logout_token_claims``) and its ``jti`` has not been
seen, every live session from that provider session (``sid``) or subject (``sub``) is
ended through ``login.end_session``, the same path as any revocation, so signaling
sockets and their media are torn down at once.

RP-initiated (OpenID Connect RP-Initiated Logout 1.0): the provider's
``end_session_endpoint`` with our ``client_id`` and ``post_logout_redirect_uri``.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from sqlalchemy import select

from lensguard.identity.context import IdentityContext
from lensguard.identity.login import end_session
from lensguard.identity.oidc.errors import LogoutTokenRefused
from lensguard.identity.oidc.room import OidcRoom, Provider
from lensguard.identity.oidc.tokens import TokenInvalid, logout_token_claims
from lensguard.store.models import LoginSession, OidcSession

JTI_MEMORY_SECONDS = 3600
MAX_SESSIONS = 1000


async def backchannel_logout(
    ctx: IdentityContext, room: OidcRoom, provider: Provider, *, logout_token: str | None
) -> int:
    """End the sessions the logout token names; how many were ended."""
    if not logout_token:
        raise LogoutTokenRefused("send logout_token in the form body", reason="missing")
    try:
        claims = await logout_token_claims(
            logout_token, provider.settings, provider.metadata, now=int(room.clock.time())
        )
    except TokenInvalid as exc:
        raise LogoutTokenRefused(f"logout token refused: {exc.detail}", reason=exc.reason) from exc
    jti = hashlib.sha256(f"{provider.name}\n{claims['jti']}".encode()).hexdigest()
    if await room.store.incr(f"jti:{jti}", ttl=JTI_MEMORY_SECONDS) > 1:
        raise LogoutTokenRefused("this logout token was already used", reason="replayed")
    query = (
        select(OidcSession.session_id)
        .join(LoginSession, LoginSession.id == OidcSession.session_id)
        .where(OidcSession.issuer == provider.settings.issuer, LoginSession.revoked_at.is_(None))
        .limit(MAX_SESSIONS)
    )
    sid, sub = claims.get("sid"), claims.get("sub")
    if sid is not None:
        query = query.where(OidcSession.sid == sid)
    if sub is not None:
        query = query.where(OidcSession.subject == sub)
    async with ctx.db.sessions() as session:
        ids = list((await session.execute(query)).scalars())
    ended = 0
    for session_id in ids:
        ended += await end_session(ctx, session_id=session_id, reason="oidc_backchannel_logout")
    return ended


async def end_session_url(provider: Provider) -> str | None:
    """Where to send the browser so the provider signs it out too (None: not offered)."""
    endpoint = (await provider.metadata.discovery()).end_session_endpoint
    if endpoint is None:
        return None
    query = {"client_id": provider.settings.client_id}
    if provider.settings.post_logout_redirect_uri is not None:
        query["post_logout_redirect_uri"] = provider.settings.post_logout_redirect_uri
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(query)


async def provider_of_session(
    ctx: IdentityContext, room: OidcRoom, session_id: str
) -> Provider | None:
    """The provider a login session came from, if any."""
    async with ctx.db.sessions() as session:
        row = await session.get(OidcSession, session_id)
    return room.by_issuer(row.issuer) if row is not None else None
