"""``/api/v1/auth``: sign in, refresh, sign out, password and MFA."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from lensguard.access.can import CREDENTIALS
from lensguard.access.declare import PUBLIC
from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.qr import svg_data_uri
from lensguard.api.schemas import (
    LoginRequest,
    MfaCode,
    MfaDisable,
    MfaEnabled,
    MfaEnrol,
    MfaEnrolment,
    PasswordChange,
    PasswordChanged,
    RefreshRequest,
    TokenResponse,
)
from lensguard.identity import credentials
from lensguard.identity import login as flows
from lensguard.identity.login import TokenPair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
Self = Annotated[Principal, requires("account_self")]
# Person-only (can()): an API key may never change the password or MFA it acts under.
Credentials = Annotated[Principal, requires(CREDENTIALS)]


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        session_id=pair.session_id,
        restrictions=pair.restrictions,
    )


@router.post(
    "/login",
    dependencies=[requires(PUBLIC)],
    summary="Sign in",
    responses=problems(BODY, 401, 503),
)
async def login(
    body: LoginRequest, request: Request, services: ServicesDep, address: AddressDep
) -> TokenResponse:
    """Sign in with username and password (and a TOTP code when MFA is on)."""
    pair = await flows.login(
        services,
        username=body.username,
        password=body.password,
        code=body.code,
        address=address,
        user_agent=request.headers.get("user-agent"),
    )
    return _tokens(pair)


@router.post(
    "/refresh",
    dependencies=[requires(PUBLIC)],
    summary="Refresh tokens",
    responses=problems(BODY, 401, 503),
)
async def refresh(
    body: RefreshRequest, services: ServicesDep, address: AddressDep
) -> TokenResponse:
    """Exchange a refresh token (single use) for new tokens."""
    return _tokens(await flows.refresh(services, presented=body.refresh_token, address=address))


@router.post("/logout", status_code=204, summary="Sign out", responses=problems(AUTHENTICATED))
async def logout(principal: Self, services: ServicesDep, address: AddressDep) -> Response:
    """End the current session: its access and refresh tokens stop working at once."""
    if principal.session_id is not None:
        await flows.end_session(
            services,
            session_id=principal.session_id,
            reason="logout",
            by=principal,
            address=address,
        )
    return Response(status_code=204)


@router.post("/password", summary="Change your password", responses=problems(AUTHENTICATED, BODY))
async def change_password(
    body: PasswordChange, principal: Credentials, services: ServicesDep, address: AddressDep
) -> PasswordChanged:
    """Change your password; every other session of yours ends (API keys too, if asked)."""
    result = await credentials.change_password(
        services,
        by=principal,
        current=body.current_password,
        new=body.new_password,
        code=body.code,
        revoke_api_keys=body.revoke_api_keys,
        keep_session=principal.session_id,
        address=address,
    )
    return PasswordChanged(
        sessions_ended=result.sessions_ended, api_keys_revoked=result.api_keys_revoked
    )


@router.post("/mfa/enrol", summary="Start MFA enrolment", responses=problems(AUTHENTICATED, BODY))
async def mfa_enrol(
    body: MfaEnrol, principal: Credentials, services: ServicesDep, address: AddressDep
) -> MfaEnrolment:
    """Start TOTP enrolment (password; a current code too when replacing one), then confirm."""
    secret, uri = await credentials.mfa_enrol(
        services, by=principal, password=body.password, code=body.code, address=address
    )
    return MfaEnrolment(secret=secret, otpauth_uri=uri, qr_code=svg_data_uri(uri))


@router.post("/mfa/confirm", summary="Confirm MFA", responses=problems(AUTHENTICATED, BODY))
async def mfa_confirm(
    body: MfaCode, principal: Credentials, services: ServicesDep, address: AddressDep
) -> MfaEnabled:
    """Finish enrolment; sign-ins then need a code. Recovery codes are shown once, here."""
    codes = await credentials.mfa_confirm(services, by=principal, code=body.code, address=address)
    return MfaEnabled(recovery_codes=codes)


@router.post(
    "/mfa/disable",
    status_code=204,
    summary="Turn MFA off",
    responses=problems(AUTHENTICATED, BODY),
)
async def mfa_disable(
    body: MfaDisable, principal: Credentials, services: ServicesDep, address: AddressDep
) -> Response:
    """Turn MFA off (needs your password and a current or recovery code)."""
    await credentials.mfa_disable(
        services, by=principal, password=body.password, code=body.code, address=address
    )
    return Response(status_code=204)
