"""``/api/v1/api-keys``: your API keys (admins: everyone's)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from lensguard.access.can import can
from lensguard.access.principal import Grant, Principal, Resource
from lensguard.api.deps import AddressDep, ServicesDep, authorize, requires
from lensguard.api.pages import PAGED, Listing, PageDep, stamp
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from lensguard.errors import NotFound, ValidationFailed
from lensguard.identity import apikeys
from lensguard.identity.auditing import append, audit_event
from lensguard.identity.ownership import key_access
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store import api_keys as repo
from lensguard.store.models import ApiKey

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"], responses=problems(AUTHENTICATED))
Self = Annotated[Principal, requires("account_self")]
LISTING: Listing[ApiKey] = Listing(
    "api-keys", key=lambda k: (stamp(k.created_at), k.id), parts=(str, str)
)


def public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=key.id,
        name=key.name,
        owner_user_id=key.owner_user_id,
        scopes=list(key.scopes),
        rate_limit_per_minute=key.rate_limit_per_minute,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked=key.revoked_at is not None,
    )


@router.post("", status_code=201, summary="Create an API key", responses=problems(BODY))
async def create(
    body: ApiKeyCreate, principal: Self, services: ServicesDep, address: AddressDep
) -> ApiKeyCreated:
    """Create a key acting for you with ``scopes`` ⊆ your permissions; shown once."""
    # A key acts for you with your scope; its scopes are what it may do of what you may.
    wanted = Grant(
        permissions=frozenset(body.scopes), sites=principal.sites, devices=principal.devices
    )
    mine = Resource(kind="api_key", owner_id=principal.id, grants=wanted)
    if not can(principal, "account_self", mine):
        # What may be granted, never the scopes sent: problems do not echo input.
        grantable = ", ".join(sorted(principal.permissions))
        raise ValidationFailed(
            f"scopes must be among your permissions: {grantable}",
            errors=[
                {"field": "body.scopes", "message": f"must be among: {grantable}", "type": "scope"}
            ],
        )
    new = apikeys.generate()
    async with services.db.transaction() as session:
        key = await repo.create_api_key(
            session,
            key_id=new.key_id,
            name=body.name,
            owner_user_id=principal.id,
            secret_hash=apikeys.hash_secret(services.pepper, new.key_id, new.secret),
            scopes=sorted(set(body.scopes)),
            expires_at=services.clock.now() + timedelta(days=body.expires_in_days),
            rate_limit_per_minute=body.rate_limit_per_minute,
        )
        event = audit_event(
            "apikey.create",
            by=principal,
            address=address,
            resource_type="api_key",
            resource_id=key.id,
            scopes=list(key.scopes),
            owner=principal.id,
        )
        await append(services, session, event)
    emit("apikey.created", severity=Severity.MEDIUM, key_id=key.id, owner=principal.id)
    return ApiKeyCreated(**public(key).model_dump(), key=new.presented)


@router.get("", summary="List API keys", responses=PAGED | problems(422))
async def list_keys(
    principal: Self,
    services: ServicesDep,
    page: PageDep,
    all_users: Annotated[bool, Query(description="Admins: every user's keys")] = False,
) -> list[ApiKeyPublic]:
    """Your keys (never their secrets); admins also those of accounts and devices they manage."""
    owner: str | None = principal.id
    if all_users:
        authorize(principal, "user_management")
        owner = None
    async with services.db.sessions() as session:
        found = await repo.list_api_keys(session, owner_user_id=owner)
        shown = [
            k for k in found if can(principal, *await key_access(services, session, principal, k))
        ]
    return [public(k) for k in LISTING.paginate(shown, page)]


@router.delete(
    "/{key_id}", status_code=204, summary="Revoke an API key", responses=problems(404, 422)
)
async def revoke(
    key_id: str, principal: Self, services: ServicesDep, address: AddressDep
) -> Response:
    """Revoke a key at once: yours, or one of an account or device you manage."""
    async with services.db.transaction() as session:
        key = await repo.get_api_key(session, key_id=key_id)
        if key is None:
            raise NotFound("no such api key")
        action, resource = await key_access(services, session, principal, key)
        authorize(principal, action, resource, hide=True)
        await repo.revoke_api_key(session, key_id=key_id, at=services.clock.now())
        event = audit_event(
            "apikey.revoke",
            by=principal,
            address=address,
            resource_type="api_key",
            resource_id=key_id,
            owner=key.owner_user_id,
        )
        await append(services, session, event)
    await services.announce(api_key_id=key_id, reason="api_key_revoked")
    emit("apikey.revoked", severity=Severity.MEDIUM, key_id=key_id, actor=principal.id)
    return Response(status_code=204)
