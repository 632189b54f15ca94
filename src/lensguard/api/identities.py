"""``/api/v1/users/{id}/identities``: an account's single sign-on links (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.schemas import LinkedIdentities, LinkedIdentity, PasswordLogin
from lensguard.identity.oidc import admin

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=problems(AUTHENTICATED))
Admin = Annotated[Principal, requires("user_management")]
Id = Annotated[str, Path(max_length=64)]


@router.get(
    "/{user_id}/identities",
    summary="Linked sign-in identities",
    responses=problems(404, 422),
)
async def list_identities(user_id: Id, principal: Admin, services: ServicesDep) -> LinkedIdentities:
    """The provider identities that sign in as this account, and whether its password does."""
    user, links = await admin.list_identities(services, user_id, by=principal)
    return LinkedIdentities(
        password_login=user.password_login,
        identities=[
            LinkedIdentity(
                id=link.id,
                provider=link.provider,
                issuer=link.issuer,
                subject=link.subject,
                created_at=link.created_at,
                last_login_at=link.last_login_at,
            )
            for link in links
        ],
    )


@router.delete(
    "/{user_id}/identities/{identity_id}",
    status_code=204,
    summary="Unlink a sign-in identity",
    responses=problems(404, 422),
)
async def unlink(
    user_id: Id, identity_id: Id, principal: Admin, services: ServicesDep, address: AddressDep
) -> Response:
    """That provider identity no longer signs in as this account."""
    await admin.unlink(services, user_id, identity_id, by=principal, address=address)
    return Response(status_code=204)


@router.put(
    "/{user_id}/password-login",
    status_code=204,
    summary="Allow or refuse password sign-in",
    responses=problems(BODY, 404),
)
async def password_login(
    user_id: Id, body: PasswordLogin, principal: Admin, services: ServicesDep, address: AddressDep
) -> Response:
    """Turn the account's password sign-in on or off (single sign-on is unaffected)."""
    await admin.set_password_login(
        services, user_id, enabled=body.enabled, by=principal, address=address
    )
    return Response(status_code=204)
