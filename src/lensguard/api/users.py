"""``/api/v1/users``: accounts (admins) and ``/users/me`` (everyone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.pages import PAGED, Listing, PageDep
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.schemas import Me, UserCreate, UserPublic, UserUpdate
from lensguard.identity import accounts
from lensguard.identity.authn import restrictions
from lensguard.store.models import User

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=problems(AUTHENTICATED))
Admin = Annotated[Principal, requires("user_management")]
Self = Annotated[Principal, requires("account_self")]
# By username, in the database's collation: the store both orders and resumes the list.
LISTING: Listing[User] = Listing("users", key=lambda u: (u.username,), parts=(str,))


def public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        role=user.role,
        disabled=user.disabled,
        must_change_password=user.must_change_password,
        mfa_enabled=user.totp_secret is not None,
        sites=list(user.sites),
        devices=list(user.devices),
        created_at=user.created_at,
    )


@router.get("/me", summary="Your account")
async def me(principal: Self, services: ServicesDep) -> Me:
    """Your account, permissions in force and pending steps."""
    user = await accounts.get_account(services, principal.id)
    return Me(
        **public(user).model_dump(),
        permissions=sorted(principal.permissions),
        restrictions=restrictions(services, user),
    )


@router.get("", summary="List accounts", responses=PAGED | problems(422))
async def list_all(
    principal: Admin,
    services: ServicesDep,
    page: PageDep,
) -> list[UserPublic]:
    """The accounts you may manage, by username; accounts beyond your reach are not listed."""
    after = LISTING.decode(page.cursor)
    # One more than the page, so the database says whether a next page exists.
    found = await accounts.list_accounts(
        services, by=principal, limit=page.limit + 1, after=None if after is None else str(after[0])
    )
    return [public(u) for u in LISTING.cut(found, page)]


@router.post("", status_code=201, summary="Create an account", responses=problems(BODY, 409))
async def create(
    body: UserCreate, principal: Admin, services: ServicesDep, address: AddressDep
) -> UserPublic:
    """Create an account holding no more than you do; it must change its password first.

    The role defaults to the configured default role, sites and devices to your own.
    """
    user = await accounts.create_account(
        services,
        username=body.username,
        password=body.password,
        role=body.role,
        sites=body.sites,
        devices=body.devices,
        by=principal,
        address=address,
    )
    return public(user)


@router.get("/{user_id}", summary="Read an account", responses=problems(404, 422))
async def read(user_id: str, principal: Admin, services: ServicesDep) -> UserPublic:
    """One account you may manage (404 for accounts beyond your reach)."""
    return public(await accounts.read_account(services, user_id, by=principal))


@router.patch("/{user_id}", summary="Change an account", responses=problems(BODY, 404))
async def update(
    user_id: str, body: UserUpdate, principal: Admin, services: ServicesDep, address: AddressDep
) -> UserPublic:
    """Change role, scope or disabled flag; effective on that user's next request.

    Only within your own permissions and scope; never widens your own account.
    """
    change = accounts.AccountChange(**body.model_dump())
    user = await accounts.update_account(
        services, user_id=user_id, change=change, by=principal, address=address
    )
    return public(user)


@router.delete(
    "/{user_id}", status_code=204, summary="Delete an account", responses=problems(404, 422)
)
async def remove(
    user_id: str, principal: Admin, services: ServicesDep, address: AddressDep
) -> Response:
    """Delete an account and end its sessions."""
    await accounts.delete_account(services, user_id=user_id, by=principal, address=address)
    return Response(status_code=204)
