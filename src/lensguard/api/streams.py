"""``/api/v1/streams/{device_id}``: AI processors, redaction and encoding per stream.

Changes apply live: the relay nodes serving the stream swap their processing chain
on the next frame (no reconnect for device or viewers). Each change is audited.
The rules live in the streams room (``streams/room.py``); this router parses,
authorises and maps.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.devices import visible_device
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.sizing import parse_resolution
from lensguard.streams.room import DeviceStream, StreamConfig

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


def _public(stream: DeviceStream) -> StreamPublic:
    public = StreamPublic(device_id=stream.device_id, **asdict(stream.config))
    policy = stream.policy
    if policy is not None:
        public.effective = Effective(
            ai_models=list(policy.ai_models),
            redact_faces=policy.redact_faces,
            redaction_from=policy.redaction_from,
        )
    return public


@router.get("/{device_id}", summary="Read stream settings", responses=problems(404, 422))
async def read(device_id: str, principal: Viewer, services: ServicesDep) -> StreamPublic:
    """The stream settings of a device in your scope."""
    await visible_device(services, principal, device_id, "camera_view")
    return _public(await services.streams.stream(device_id))


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
    config = StreamConfig(**body.model_dump())
    return _public(
        await services.streams.configure(device_id, config, by=principal, address=address)
    )
