"""``/api/v1/streams/{device_id}``: AI processors, redaction and encoding per stream.

Changes apply live: the relay nodes serving the stream swap their processing chain
on the next frame (no reconnect for device or viewers). Each change is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.devices import visible_device
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.errors import ValidationFailed
from lensguard.identity.auditing import append, audit_event
from lensguard.sizing import parse_resolution
from lensguard.store.models import StreamSettings
from lensguard.store.streams import device_settings, stream_policy
from lensguard.vision.registry import default_registry

router = APIRouter(prefix="/api/v1/streams", tags=["streams"], responses=problems(AUTHENTICATED))
Viewer = Annotated[Principal, requires("camera_view")]
Manager = Annotated[Principal, requires("device_manage")]


class StreamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
    ai_models: list[str] = Field(default_factory=list, max_length=8)
    redact_faces: bool = False
    resolution: str | None = Field(
        default=None,
        description="WxH, 320x240 to 3840x2160: the picture is scaled down to fit (aspect "
        "kept, never up); null keeps the source's own size",
    )
    bitrate: int = Field(default=1_500_000, ge=100_000, le=10_000_000, description="bit/s")

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: str | None) -> str | None:
        if value is not None:
            parse_resolution(value)
        return value


class Effective(BaseModel):
    """What the relay applies: the site's policy combined with these settings."""

    ai_models: list[str]
    redact_faces: bool
    redaction_from: str | None = Field(description="site, device, or null when off")


class StreamPublic(StreamUpdate):
    device_id: str
    effective: Effective | None = None


def _public(device_id: str, row: StreamSettings | None) -> StreamPublic:
    if row is None:
        return StreamPublic(device_id=device_id)
    return StreamPublic(
        device_id=device_id,
        name=row.name,
        ai_models=list(row.ai_models),
        redact_faces=row.redact_faces,
        resolution=row.resolution,
        bitrate=row.bitrate,
    )


def check_models(names: list[str]) -> None:
    """Refuse unknown processor names with a 422 that lists the valid ones."""
    valid = default_registry().names
    if any(n not in valid for n in names):
        allowed = ", ".join(valid)
        # The valid names, never the ones sent: problems do not echo input.
        raise ValidationFailed(
            f"ai_models must be among: {allowed}",
            errors=[
                {
                    "field": "body.ai_models",
                    "message": f"must be among: {allowed}",
                    "type": "unknown_processor",
                }
            ],
        )


@router.get("/{device_id}", summary="Read stream settings", responses=problems(404, 422))
async def read(device_id: str, principal: Viewer, services: ServicesDep) -> StreamPublic:
    """The stream settings of a device in your scope."""
    await visible_device(services, principal, device_id, "camera_view")
    async with services.db.sessions() as session:
        public = _public(device_id, await session.get(StreamSettings, device_id))
        return await _with_effective(session, public)


async def _with_effective(session: AsyncSession, public: StreamPublic) -> StreamPublic:
    policy = await stream_policy(session, public.device_id)
    if policy is not None:
        public.effective = Effective(
            ai_models=list(policy.ai_models),
            redact_faces=policy.redact_faces,
            redaction_from=policy.redaction_from,
        )
    return public


@router.put("/{device_id}", summary="Set stream settings", responses=problems(BODY, 404))
async def update(
    device_id: str,
    body: StreamUpdate,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> StreamPublic:
    """Set processors, redaction and encoding; relays apply it on the next frame."""
    await visible_device(services, principal, device_id, "device_manage")
    check_models(body.ai_models)
    async with services.db.transaction() as session:
        row = await session.get(StreamSettings, device_id)
        before = _public(device_id, row).model_dump(exclude={"device_id", "effective"})
        if row is None:
            row = StreamSettings(device_id=device_id)
            session.add(row)
        for key, value in body.model_dump().items():
            setattr(row, key, value)
        await session.flush()
        event = audit_event(
            "stream.configure",
            by=principal,
            address=address,
            resource_type="device",
            resource_id=device_id,
            before=before,
            after=body.model_dump(),
        )
        await append(services, session, event)
        public = await _with_effective(session, _public(device_id, row))
    await services.announce_stream(device_id)
    await services.tell_device(device_id, device_settings(row))
    return public
