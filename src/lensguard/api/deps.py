"""Dependencies routers share, and ``requires(action)``, the per-route declaration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.declare import IN_BAND, PUBLIC, mark_action
from lensguard.access.principal import Principal
from lensguard.audit.denials import denial_event
from lensguard.errors import Unauthenticated
from lensguard.guard.client import client_address
from lensguard.identity.authn import authenticate_bearer
from lensguard.identity.enforce import authorize as authorize  # noqa: PLC0414 - routers import it here
from lensguard.monitor.events import emit
from lensguard.pki.binding import DeviceBinding
from lensguard.services import Services
from lensguard.severity import Severity

MAX_CREDENTIAL_CHARS = 8192


def get_services(request: Request) -> Services:
    """The app's service container."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A database session in one transaction for the request."""
    async with services.db.transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def request_address(request: Request) -> str:
    """The caller's address, honouring only trusted proxies."""
    return client_address(request.scope, get_services(request).trusted_proxies)


AddressDep = Annotated[str, Depends(request_address)]


def bearer_credential(request: Request) -> str:
    """The credential from ``Authorization: Bearer …``; never from the URL."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthenticated("send credentials as 'Authorization: Bearer <token or API key>'")
    if len(credential) > MAX_CREDENTIAL_CHARS:
        raise Unauthenticated("invalid or expired access token")
    return credential


async def authenticate(request: Request) -> Principal:
    """The principal behind the request's bearer credential (cached per request)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    services = get_services(request)
    try:
        principal = await authenticate_bearer(services, bearer_credential(request))
        await _bound(services, request, principal)
    except Unauthenticated as exc:
        address, reason = request_address(request), getattr(exc, "reason", exc.detail)
        emit(
            "auth.rejected",
            severity=Severity.LOW,
            address=address,
            path=request.url.path,
            reason=reason,
        )
        # Keyed by address and reason, not path: a scan of many paths stays one tally.
        services.denials.note(denial_event(None, "authenticate", reason=reason, address=address))
        raise
    request.state.principal = principal
    return principal


async def _bound(services: Services, request: Request, principal: Principal) -> None:
    """Refuse a device whose connection lacks its own certificate (``security.pki``)."""
    binding = DeviceBinding.of(
        services.db, services.settings.security.pki.device_tls, request.scope
    )
    refusal = await binding.refusal(principal)
    if refusal is not None:
        emit(
            "device.certificate_refused",
            severity=Severity.HIGH,
            principal=principal.id,
            reason=refusal,
        )
        raise Unauthenticated(refusal)


def _public() -> None:
    """Anyone may call this route."""


mark_action(_public, PUBLIC)


def _in_band() -> None:
    """The route authenticates within its own protocol."""


mark_action(_in_band, IN_BAND)


def requires(action: str) -> Any:
    """Declare the action a route needs; ``PUBLIC`` for routes open to everyone.

    Use as ``dependencies=[requires(A)]`` or ``principal: Annotated[Principal, requires(A)]``.
    """
    if action == PUBLIC:
        return Depends(_public)
    if action == IN_BAND:
        return Depends(_in_band)

    async def check(request: Request) -> Principal:
        principal = await authenticate(request)
        authorize(principal, action)
        return principal

    check.__name__ = f"requires_{action}"
    mark_action(check, action)
    return Depends(check)
