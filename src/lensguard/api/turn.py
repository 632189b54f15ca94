"""``/api/v1/turn-credentials``: short-lived TURN credentials for viewers and devices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from lensguard.access.can import can
from lensguard.access.declare import mark_action
from lensguard.access.principal import Principal, PrincipalKind
from lensguard.api.deps import AddressDep, ServicesDep, authenticate, authorize
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.identity.auditing import audit_event, record
from lensguard.media.turn import ice_servers, mint_credential, turn_secret
from lensguard.monitor.events import emit

router = APIRouter(prefix="/api/v1", tags=["turn"], responses=problems(AUTHENTICATED))


class IceServer(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class TurnCredentials(BaseModel):
    ice_servers: list[IceServer]
    ttl: int = Field(description="Seconds the credential stays valid (0 when TURN is off)")


async def media_principal(request: Request) -> Principal:
    """A caller that takes part in media: a device publishing, or someone who may watch."""
    principal = await authenticate(request)
    # Devices need TURN to publish but hold no camera_view; people need camera_view.
    # Keyed on the principal's kind, not only its permissions, so a *user* given the
    # device role gets nothing here (the route matrix expects exactly that).
    if principal.kind is PrincipalKind.DEVICE and can(principal, "stream_publish"):
        return principal
    authorize(principal, "camera_view")
    return principal


# The route table must see one declared action per route. "camera_view" is what the
# check means for every user and API key; the device branch above is the one extension,
# and it is narrower than any role (a device can only ever publish its own stream).
mark_action(media_principal, "camera_view")
MediaPrincipal = Annotated[Principal, Depends(media_principal)]


@router.get("/turn-credentials", response_model_exclude_none=True, summary="TURN credentials")
async def turn_credentials(
    principal: MediaPrincipal, services: ServicesDep, address: AddressDep
) -> TurnCredentials:
    """ICE servers for WebRTC: TURN with an ephemeral credential; empty when TURN is off."""
    settings = services.settings
    if not settings.turn.enabled:
        return TurnCredentials(ice_servers=[], ttl=0)
    ttl = settings.turn.ttl
    credential = mint_credential(
        turn_secret(settings), principal.id, ttl=ttl, now=services.clock.time()
    )
    emit(
        "turn.credentials_issued",
        principal=principal.id,
        principal_kind=principal.kind.value,
        ttl=ttl,
    )
    await record(
        services,
        audit_event(
            "turn.credentials_issue",
            by=principal,
            address=address,
            resource_type="turn",
            resource_id=credential.username,
            ttl=ttl,
        ),
    )
    servers = ice_servers(settings.turn, credential)
    return TurnCredentials(ice_servers=[IceServer(**s) for s in servers], ttl=ttl)
