"""``/api/v1/auth/oidc``: single sign-on through OpenID Connect providers (docs/sso.md)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from lensguard.access.declare import PUBLIC
from lensguard.access.principal import Principal
from lensguard.api.auth import _tokens
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.schemas import (
    BackchannelLogoutResult,
    OidcExchange,
    OidcLogout,
    OidcProviderInfo,
    OidcProviders,
    TokenResponse,
)
from lensguard.errors import LensguardError, PayloadTooLarge, RateLimited, UnsupportedMediaType
from lensguard.identity import login as flows
from lensguard.identity.oidc import flow, logout, session
from lensguard.identity.oidc.auditing import refused
from lensguard.identity.oidc.errors import UnknownProvider
from lensguard.identity.oidc.room import OidcRoom
from lensguard.identity.oidc.state import COOKIE, COOKIE_PATH
from lensguard.services import Services

router = APIRouter(prefix="/api/v1/auth/oidc", tags=["auth"])
Self = Annotated[Principal, requires("account_self")]
ProviderName = Annotated[str, Path(max_length=31, pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")]
BINDING = "lg_oidc_bind"
MAX_LOGOUT_BODY = 16 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def _room(services: Services) -> OidcRoom:
    if services.oidc is None or not services.oidc.providers:
        raise UnknownProvider()
    return services.oidc


async def _limited(services: Services, room: OidcRoom, address: str) -> None:
    decision = await services.rate_limiter.hit(
        f"oidc-start:{address}", limit=room.settings.starts_per_minute, window=60
    )
    if not decision.allowed:
        raise RateLimited("too many sign-ins started", retry_after=decision.retry_after)


@router.get(
    "/providers",
    dependencies=[requires(PUBLIC)],
    summary="Single sign-on providers",
)
async def providers(services: ServicesDep) -> OidcProviders:
    """The providers the console offers sign-in buttons for."""
    found = services.oidc.providers.values() if services.oidc is not None else ()
    return OidcProviders(
        providers=[
            OidcProviderInfo(
                name=p.name,
                label=p.settings.label or p.name,
                start_path=f"{router.prefix}/{p.name}/start",
            )
            for p in found
        ]
    )


@router.get(
    "/{provider}/start",
    dependencies=[requires(PUBLIC)],
    status_code=302,
    response_class=RedirectResponse,
    # A browser navigation (302 to the provider), not an API call: kept out of the
    # OpenAPI document, which allows public routes only (docs/sso.md describes it).
    include_in_schema=False,
    summary="Start single sign-on",
    responses=problems(401, 404, 422, 503),
)
async def start(
    provider: ProviderName,
    services: ServicesDep,
    address: AddressDep,
    next: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Send the browser to the provider (authorization code flow with PKCE S256)."""
    try:
        room = _room(services)
        chosen = room.provider(provider)
        await _limited(services, room, address)
        started = await flow.start(room, chosen, next_path=next)
    except LensguardError as exc:
        await refused(services, "auth.oidc_start", provider, exc, address)
        raise
    response = RedirectResponse(started.location, status_code=302, headers=NO_STORE)
    response.set_cookie(
        COOKIE,
        started.cookie,
        max_age=started.max_age,
        path=COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(
    "/{provider}/callback",
    dependencies=[requires(PUBLIC)],
    status_code=302,
    response_class=RedirectResponse,
    include_in_schema=False,
    summary="Single sign-on callback",
    responses=problems(401, 403, 404, 503),
)
async def callback(
    provider: ProviderName, request: Request, services: ServicesDep, address: AddressDep
) -> Response:
    """Where the provider sends the browser back; answers a redirect to the console."""
    params = dict(request.query_params)
    try:
        room = _room(services)
        chosen = room.provider(provider)
        done = await flow.callback(
            services,
            room,
            chosen,
            params=params,
            cookie=request.cookies.get(COOKIE),
            host=request.headers.get("host"),
        )
    except LensguardError as exc:
        await refused(services, "auth.oidc_callback", provider, exc, address)
        raise
    response = RedirectResponse(done.location, status_code=302, headers=NO_STORE)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="lax")
    response.set_cookie(
        BINDING,
        done.binding,
        max_age=room.settings.login_code_lifetime_seconds,
        path=COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post(
    "/exchange",
    dependencies=[requires(PUBLIC)],
    summary="Exchange a single sign-on login code",
    responses=problems(BODY, 401, 404, 503),
)
async def exchange(
    body: OidcExchange, request: Request, services: ServicesDep, address: AddressDep
) -> TokenResponse:
    """Redeem the one-time code from the callback's redirect for the session's tokens."""
    try:
        room = _room(services)
        pair = await session.exchange(
            services,
            room,
            login_code=body.login_code,
            binding=request.cookies.get(BINDING),
            code=body.code,
            address=address,
            user_agent=request.headers.get("user-agent"),
        )
    except LensguardError as exc:
        await refused(services, "auth.oidc_exchange", "-", exc, address)
        raise
    return _tokens(pair)


async def _logout_token(request: Request) -> str | None:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("send the logout token as application/x-www-form-urlencoded")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_LOGOUT_BODY:
            raise PayloadTooLarge("the logout request is too large")
    fields = dict(parse_qsl(raw.decode("ascii", errors="replace"), max_num_fields=8))
    return fields.get("logout_token")


@router.post(
    "/{provider}/backchannel-logout",
    dependencies=[requires(PUBLIC)],
    summary="Back-channel logout from the provider",
    responses=problems(400, 404, 413, 415, 422, 503),
)
async def backchannel_logout(
    provider: ProviderName, request: Request, services: ServicesDep, address: AddressDep
) -> BackchannelLogoutResult:
    """The provider ends sessions (OpenID Connect Back-Channel Logout 1.0, signed token)."""
    try:
        room = _room(services)
        chosen = room.provider(provider)
        ended = await logout.backchannel_logout(
            services, room, chosen, logout_token=await _logout_token(request)
        )
    except LensguardError as exc:
        await refused(services, "auth.oidc_backchannel_logout", provider, exc, address)
        raise
    return BackchannelLogoutResult(sessions_ended=ended)


@router.post(
    "/logout",
    summary="Sign out here and at the provider",
    responses=problems(AUTHENTICATED, 503),
)
async def rp_logout(principal: Self, services: ServicesDep, address: AddressDep) -> OidcLogout:
    """End the current session; ``end_session_url`` signs the browser out at the provider."""
    url = None
    if principal.session_id is not None:
        if services.oidc is not None:
            chosen = await logout.provider_of_session(services, services.oidc, principal.session_id)
            url = await logout.end_session_url(chosen) if chosen is not None else None
        await flows.end_session(
            services,
            session_id=principal.session_id,
            reason="logout",
            by=principal,
            address=address,
        )
    return OidcLogout(end_session_url=url)
