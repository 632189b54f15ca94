"""``/api/v1/auth``: sign in, refresh, sign out, password and MFA."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from lensguard.access.declare import PUBLIC
from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, IdentityDep, requires
from lensguard.api.schemas import (
    LoginRequest,
    MfaCode,
    MfaEnrolment,
    PasswordChange,
    PasswordChanged,
    RefreshRequest,
    TokenResponse,
)
from lensguard.identity import accounts
from lensguard.identity import login as flows
from lensguard.identity.login import TokenPair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
Self = Annotated[Principal, requires("account_self")]


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        session_id=pair.session_id,
        restrictions=pair.restrictions,
    )


@router.post("/login", dependencies=[requires(PUBLIC)])
async def login(
    body: LoginRequest, request: Request, identity: IdentityDep, address: AddressDep
) -> TokenResponse:
    """Sign in with username and password (and a TOTP code when MFA is on)."""
    pair = await flows.login(
        identity,
        username=body.username,
        password=body.password,
        code=body.code,
        address=address,
        user_agent=request.headers.get("user-agent"),
    )
    return _tokens(pair)


@router.post("/refresh", dependencies=[requires(PUBLIC)])
async def refresh(
    body: RefreshRequest, identity: IdentityDep, address: AddressDep
) -> TokenResponse:
    """Exchange a refresh token (single use) for new tokens."""
    return _tokens(await flows.refresh(identity, presented=body.refresh_token, address=address))


@router.post("/logout", status_code=204)
async def logout(principal: Self, identity: IdentityDep, address: AddressDep) -> Response:
    """End the current session: its access and refresh tokens stop working at once."""
    if principal.session_id is not None:
        await flows.end_session(
            identity,
            session_id=principal.session_id,
            reason="logout",
            by=principal,
            address=address,
        )
    return Response(status_code=204)


@router.post("/password")
async def change_password(
    body: PasswordChange, principal: Self, identity: IdentityDep, address: AddressDep
) -> PasswordChanged:
    """Change your password; every other session of yours ends."""
    ended = await accounts.change_password(
        identity,
        by=principal,
        current=body.current_password,
        new=body.new_password,
        keep_session=principal.session_id,
        address=address,
    )
    return PasswordChanged(sessions_ended=ended)


@router.post("/mfa/enrol")
async def mfa_enrol(principal: Self, identity: IdentityDep) -> MfaEnrolment:
    """Start TOTP enrolment: scan the URI, then confirm with a code."""
    secret, uri = await accounts.mfa_enrol(identity, by=principal)
    return MfaEnrolment(secret=secret, otpauth_uri=uri)


@router.post("/mfa/confirm", status_code=204)
async def mfa_confirm(body: MfaCode, principal: Self, identity: IdentityDep) -> Response:
    """Finish enrolment; sign-ins then need a code."""
    await accounts.mfa_confirm(identity, by=principal, code=body.code)
    return Response(status_code=204)


@router.post("/mfa/disable", status_code=204)
async def mfa_disable(body: MfaCode, principal: Self, identity: IdentityDep) -> Response:
    """Turn TOTP off (needs a current code)."""
    await accounts.mfa_disable(identity, by=principal, code=body.code)
    return Response(status_code=204)
