"""``GET /api/v1/devices/{id}/thumbnail``: a small JPEG of the device's live picture.

The picture viewers get (``media.thumbnail``): processed and redacted as the stream's
policy says, never the raw feed, cached for a few seconds per node. Needs
``camera_view`` on the device (404 when it is absent or outside your scope, like every
device route); 409 ``conflict`` when the device is offline or sent no picture in time,
so the console shows it as offline rather than an old frame.

A thumbnail is a look at live video, so it is audited (``stream.thumbnail``) — once
per person and device per ``AUDIT_EVERY`` seconds on each node, not at every refresh
of a console that shows it every ten seconds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.devices import visible_device
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.errors import Conflict, ServiceUnavailable
from lensguard.identity.auditing import audit_event, record
from lensguard.media.relay import RelayError
from lensguard.media.thumbnail import CACHE_SECONDS, ThumbnailUnavailable

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], responses=problems(AUTHENTICATED))
Viewer = Annotated[Principal, requires("camera_view")]
DeviceId = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
AUDIT_EVERY = 600.0
MAX_REMEMBERED = 10_000


def _due(request: Request, key: tuple[str, str], now: float) -> bool:
    """Whether this person's look at this device is to be audited now (per node)."""
    seen: dict[tuple[str, str], float] | None = getattr(request.app.state, "thumbnail_audits", None)
    if seen is None:
        seen = request.app.state.thumbnail_audits = {}
    last = seen.get(key)
    if last is not None and now - last < AUDIT_EVERY:
        return False
    if len(seen) >= MAX_REMEMBERED:
        seen.clear()  # bounded: forgetting only means one more audit row each
    seen[key] = now
    return True


@router.get(
    "/{device_id}/thumbnail",
    summary="A thumbnail of the live picture",
    responses=problems(404, 409, 422, 503)
    | {
        200: {
            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The JPEG",
        }
    },
    response_class=Response,
)
async def thumbnail(
    device_id: DeviceId,
    principal: Viewer,
    services: ServicesDep,
    address: AddressDep,
    request: Request,
) -> Response:
    """A JPEG, 320 pixels wide, of the processed (redacted) picture, at most a few
    seconds old; ``X-Taken-At`` gives when the frame was taken (epoch seconds)."""
    await visible_device(services, principal, device_id, "camera_view")
    media = services.hub.media
    if media is None:
        raise ServiceUnavailable("this node has no media relay")
    try:
        found = await media.thumbnails.get(device_id)
    except (RelayError, ThumbnailUnavailable) as exc:
        raise Conflict(f"no picture: {exc}") from None
    if _due(request, (principal.id, device_id), services.clock.monotonic()):
        await record(
            services,
            audit_event(
                "stream.thumbnail",
                by=principal,
                address=address,
                resource_type="device",
                resource_id=device_id,
            ),
        )
    return Response(
        found.jpeg,
        media_type="image/jpeg",
        headers={
            "Cache-Control": f"private, max-age={int(CACHE_SECONDS)}",
            "X-Taken-At": f"{found.taken_at:.3f}",
        },
    )
