"""The authorization-code flow with PKCE (S256), up to a one-time login code.

``start`` sends the browser to the provider with fresh ``state``, ``nonce`` and PKCE
challenge, all bound to the sealed cookie (``state.py``). ``callback`` checks the
cookie against ``state``, the RFC 9207 ``iss`` parameter, the host the provider sent
the browser back to, and uses each ``state`` once; it redeems the code (authlib, with
the verifier), validates the ID token (``tokens.py``), fetches userinfo where claims
are missing, resolves the account (``linking.py``) and answers a redirect to the
console carrying a one-time login code in the URL fragment (never sent to a server,
never logged). The console exchanges it (``session.py``) for the usual tokens; the
code works only together with a cookie set on the same redirect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge

with warnings.catch_warnings():
    # Authlib 1.9 announces a move to httpx2 on import; the httpx client still works, and
    # the notice must not reach the shell's stderr (every CLI command imports this).
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from lensguard.identity.context import IdentityContext
from lensguard.identity.oidc import linking
from lensguard.identity.oidc.errors import ProviderUnavailable, SsoRefused
from lensguard.identity.oidc.room import OidcRoom, Provider
from lensguard.identity.oidc.state import FlowState, seal, unseal
from lensguard.identity.oidc.tokens import TokenInvalid, id_token_claims

MAX_NEXT_CHARS = 512
MAX_PARAM_CHARS = 2048


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the cookie that binds the flow to it."""

    location: str
    cookie: str
    max_age: int


@dataclass(frozen=True)
class Finished:
    """Where to send the browser back to, and the cookie the login code needs."""

    location: str
    binding: str
    user_id: str
    username: str
    how: str


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this origin, else a refusal (no open redirects)."""
    if value is None or value == "":
        return "/"
    bad = (
        len(value) > MAX_NEXT_CHARS
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or "\\" in value
        or "#" in value
        or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value)
    )
    parts = urlsplit(value)
    if bad or parts.scheme or parts.netloc:
        raise SsoRefused("next must be a path on this site", reason="open_redirect")
    return value


async def start(room: OidcRoom, provider: Provider, *, next_path: str | None) -> Started:
    """The authorization request for ``provider``, and the cookie binding it."""
    target = safe_next(next_path)
    endpoint = (await provider.metadata.discovery()).authorization_endpoint
    flow = FlowState(
        provider=provider.name,
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(48),
        next_path=target,
        expires=room.clock.time() + room.settings.state_lifetime_seconds,
    )
    query = {
        "response_type": "code",
        "client_id": provider.settings.client_id,
        "redirect_uri": provider.settings.redirect_uri,
        "scope": " ".join(provider.settings.scopes),
        "state": flow.state,
        "nonce": flow.nonce,
        "code_challenge": create_s256_code_challenge(flow.verifier),
        "code_challenge_method": "S256",
    }
    glue = "&" if urlsplit(endpoint).query else "?"
    return Started(
        location=endpoint + glue + urlencode(query),
        cookie=seal(room.state_key, flow),
        max_age=room.settings.state_lifetime_seconds,
    )


def _param(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and len(value) > MAX_PARAM_CHARS:
        raise SsoRefused(f"the {name} parameter is too long", reason="malformed")
    return value


async def _redeem(
    provider: Provider, token_endpoint: str, code: str, verifier: str
) -> dict[str, Any]:
    settings = provider.settings
    client = AsyncOAuth2Client(
        client_id=settings.client_id,
        client_secret=provider.secret.get_secret_value(),
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
        timeout=settings.http_timeout_seconds,
        trust_env=False,
    )
    try:
        async with client:
            token = await client.fetch_token(
                token_endpoint,
                grant_type="authorization_code",
                code=code,
                redirect_uri=settings.redirect_uri,
                code_verifier=verifier,
            )
    except OAuthError as exc:
        # A used, expired or foreign code: the provider refused to redeem it.
        raise SsoRefused(
            "the provider refused the authorization code", reason="code_refused"
        ) from exc
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"{provider.name}: the token endpoint failed") from exc
    return dict(token)


async def _userinfo(
    room: OidcRoom, provider: Provider, url: str, access_token: str, subject: str
) -> dict[str, Any]:
    try:
        response = await room.http.get(
            url,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=provider.settings.http_timeout_seconds,
        )
        body = (
            response.json()
            if response.status_code == 200 and len(response.content) < 65536
            else None
        )
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"{provider.name}: userinfo failed") from exc
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"{provider.name}: userinfo answered no claims")
    # OpenID Connect Core 1.0, 5.3.2: the userinfo sub must be the ID token's.
    if body.get("sub") != subject:
        raise SsoRefused("userinfo names another subject", reason="userinfo_subject")
    return body


def mfa_by_provider(provider: Provider, claims: dict[str, Any]) -> bool:
    """Whether the provider's ``amr``/``acr`` count as a second factor here."""
    if not provider.settings.trust_amr_mfa:
        return False
    amr = claims.get("amr")
    methods = {m for m in amr if isinstance(m, str)} if isinstance(amr, list) else set()
    acr = claims.get("acr")
    return bool(methods & set(provider.settings.mfa_amr_values)) or (
        isinstance(acr, str) and acr in provider.settings.mfa_acr_values
    )


async def callback(
    ctx: IdentityContext,
    room: OidcRoom,
    provider: Provider,
    *,
    params: dict[str, str],
    cookie: str | None,
    host: str | None,
) -> Finished:
    """Check the provider's answer and resolve the account; refusals raise ``SsoRefused``."""
    flow = unseal(room.state_key, cookie, now=room.clock.time())
    if flow is None or flow.provider != provider.name:
        raise SsoRefused("this sign-in was not started here or took too long", reason="no_state")
    state = _param(params, "state")
    if state is None or not hmac.compare_digest(state.encode(), flow.state.encode()):
        raise SsoRefused("the state does not match this sign-in", reason="state_mismatch")
    expected_host = urlsplit(provider.settings.redirect_uri).netloc
    if host is None or host.lower() != expected_host.lower():
        raise SsoRefused("the provider returned to another address", reason="redirect_uri")
    discovery = await provider.metadata.discovery()
    iss = _param(params, "iss")
    if (iss is None and discovery.iss_parameter_supported) or (
        iss is not None and iss != provider.settings.issuer
    ):
        # RFC 9207: an answer naming another issuer is a mix-up attack.
        raise SsoRefused("the answer comes from another issuer", reason="iss_mismatch")
    # Each state is used once: a replayed answer is refused before the code is tried.
    used = hashlib.sha256(flow.state.encode()).hexdigest()
    if await room.store.incr(f"state:{used}", ttl=room.settings.state_lifetime_seconds) > 1:
        raise SsoRefused("this sign-in was already completed", reason="state_replayed")
    if _param(params, "error") is not None:
        raise SsoRefused("the provider did not sign you in", reason="provider_error")
    code = _param(params, "code")
    if not code:
        raise SsoRefused("the provider sent no authorization code", reason="no_code")
    token = await _redeem(provider, discovery.token_endpoint, code, flow.verifier)
    raw = token.get("id_token")
    if not isinstance(raw, str):
        raise SsoRefused("the provider sent no ID token", reason="no_id_token")
    try:
        claims = await id_token_claims(
            raw, provider.settings, provider.metadata, nonce=flow.nonce, now=int(room.clock.time())
        )
    except TokenInvalid as exc:
        raise SsoRefused(
            f"ID token refused: {exc.detail}", reason=f"id_token_{exc.reason}"
        ) from exc
    wanted = provider.settings.userinfo
    missing = "email" not in claims or any(r.claim not in claims for r in provider.settings.rules)
    access_token = token.get("access_token")
    if (
        discovery.userinfo_endpoint is not None
        and isinstance(access_token, str)
        and (wanted == "always" or (wanted == "when_missing" and missing))
    ):
        extra = await _userinfo(
            room, provider, discovery.userinfo_endpoint, access_token, claims["sub"]
        )
        claims = {**extra, **claims}
    async with ctx.db.transaction() as session:
        linked = await linking.resolve(ctx, session, provider, claims)
    login_code = secrets.token_urlsafe(32)
    binding = secrets.token_urlsafe(32)
    pending = {
        "u": linked.user.id,
        "p": provider.name,
        "sub": claims["sub"],
        "sid": claims.get("sid") if isinstance(claims.get("sid"), str) else None,
        "m": mfa_by_provider(provider, claims),
        "b": hashlib.sha256(binding.encode()).hexdigest(),
        "how": linked.how,
    }
    await room.store.set(
        code_key(login_code), json.dumps(pending), ttl=room.settings.login_code_lifetime_seconds
    )
    return Finished(
        location=f"{flow.next_path}#{urlencode({'sso_code': login_code})}",
        binding=binding,
        user_id=linked.user.id,
        username=linked.user.username,
        how=linked.how,
    )


def code_key(login_code: str) -> str:
    """Where a login code waits: under its hash, so the store never holds it in clear."""
    return "code:" + hashlib.sha256(login_code.encode()).hexdigest()
