"""``/api/v1/users``: accounts (admins) and ``/users/me`` (everyone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.pages import PAGED, Listing, PageDep
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.schemas import Me, ProfileFields, UserCreate, UserPublic, UserUpdate
from lensguard.identity import accounts
from lensguard.identity.authn import restrictions
from lensguard.identity.profile import Profile, read_profile
from lensguard.services import Services
from lensguard.store.models import User

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=problems(AUTHENTICATED))
Admin = Annotated[Principal, requires("user_management")]
Self = Annotated[Principal, requires("account_self")]
# By username, in the database's collation: the store both orders and resumes the list.
LISTING: Listing[User] = Listing("users", key=lambda u: (u.username,), parts=(str,))


def public(user: User, profile: Profile | None = None) -> UserPublic:
    profile = profile or Profile()
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
        email=profile.email,
        display_name=profile.display_name,
        phone=profile.phone,
    )


async def publics(services: Services, users: list[User]) -> list[UserPublic]:
    """The accounts as shown, their personal fields opened."""
    async with services.db.sessions() as session:
        return [public(u, await read_profile(services.fields, session, u)) for u in users]


async def shown(services: Services, user: User) -> UserPublic:
    return (await publics(services, [user]))[0]


@router.get("/me", summary="Your account")
async def me(principal: Self, services: ServicesDep) -> Me:
    """Your account, permissions in force and pending steps."""
    user = await accounts.get_account(services, principal.id)
    return Me(
        **(await shown(services, user)).model_dump(),
        permissions=sorted(principal.permissions),
        restrictions=restrictions(services, user),
    )


@router.patch("/me", summary="Change your own profile", responses=problems(BODY, 409))
async def change_me(
    body: ProfileFields, principal: Self, services: ServicesDep, address: AddressDep
) -> UserPublic:
    """Set or clear your e-mail address, display name and phone (``null`` clears a field).

    They are sealed at rest; the e-mail address then also signs you in. 409 when
    another account already has the address.
    """
    user = await accounts.update_own_profile(
        services, by=principal, changes=body.profile(), address=address
    )
    return await shown(services, user)


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
    return await publics(services, LISTING.cut(found, page))


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
        profile=body.profile(),
    )
    return await shown(services, user)


@router.get("/{user_id}", summary="Read an account", responses=problems(404, 422))
async def read(user_id: str, principal: Admin, services: ServicesDep) -> UserPublic:
    """One account you may manage (404 for accounts beyond your reach)."""
    return await shown(services, await accounts.read_account(services, user_id, by=principal))


@router.patch("/{user_id}", summary="Change an account", responses=problems(BODY, 404))
async def update(
    user_id: str, body: UserUpdate, principal: Admin, services: ServicesDep, address: AddressDep
) -> UserPublic:
    """Change role, scope or disabled flag; effective on that user's next request.

    Only within your own permissions and scope; never widens your own account.
    """
    fields = body.model_dump(exclude={"email", "display_name", "phone"})
    change = accounts.AccountChange(**fields, profile=body.profile())
    user = await accounts.update_account(
        services, user_id=user_id, change=change, by=principal, address=address
    )
    return await shown(services, user)


@router.delete(
    "/{user_id}", status_code=204, summary="Delete an account", responses=problems(404, 422)
)
async def remove(
    user_id: str, principal: Admin, services: ServicesDep, address: AddressDep
) -> Response:
    """Delete an account and end its sessions."""
    await accounts.delete_account(services, user_id=user_id, by=principal, address=address)
    return Response(status_code=204)
