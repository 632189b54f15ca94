"""``/api/v1/streams/{device_id}``: AI processors, redaction and encoding per stream.

Changes apply live: the relay nodes serving the stream swap their processing chain
on the next frame (no reconnect for device or viewers). Each change is audited.
The rules live in the streams room (``streams/room.py``); this router parses,
authorises and maps.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.devices import visible_device
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.processors import MAX_MODELS
from lensguard.sizing import parse_resolution
from lensguard.store.streams import RecordingPolicy
from lensguard.streams.room import DeviceStream, StreamConfig

router = APIRouter(prefix="/api/v1/streams", tags=["streams"], responses=problems(AUTHENTICATED))
Viewer = Annotated[Principal, requires("camera_view")]
Manager = Annotated[Principal, requires("device_manage")]


RecordingMode = Literal["off", "continuous", "on_event", "on_demand"]


class DeviceRecording(BaseModel):
    """A device's own recording policy; the site's is a floor it cannot lower."""

    model_config = ConfigDict(extra="forbid")

    mode: RecordingMode = Field(
        default="off",
        description="off, continuous, on_event (detections, motion, incidents, with pre- and "
        "post-roll) or on_demand (started and stopped by a person)",
    )
    pre_roll_seconds: int | None = Field(
        default=None, ge=0, le=30, description="on_event: seconds kept before the event"
    )
    post_roll_seconds: int | None = Field(
        default=None, ge=0, le=300, description="on_event: seconds kept after the event"
    )
    segment_seconds: float | None = Field(
        default=None, ge=2.0, le=10.0, description="segment length; null: the site's or default"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_raw(cls, data: Any) -> Any:
        if isinstance(data, dict) and "record_raw" in data:
            raise ValueError("record_raw is a site policy: set it on /api/v1/sites/{site}/policy")
        return data


class StreamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
    ai_models: list[str] = Field(default_factory=list, max_length=MAX_MODELS)
    redact_faces: bool = False
    resolution: str | None = Field(
        default=None,
        description="WxH, 320x240 to 3840x2160: the picture is scaled down to fit (aspect "
        "kept, never up); null keeps the source's own size",
    )
    bitrate: int = Field(default=1_500_000, ge=100_000, le=10_000_000, description="bit/s")
    recording: DeviceRecording = Field(default_factory=DeviceRecording)

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: str | None) -> str | None:
        if value is not None:
            parse_resolution(value)
        return value


class EffectiveRecording(BaseModel):
    """What the node holding the device records: the site's floor and the device's policy."""

    mode: RecordingMode
    mode_from: str | None = Field(description="site, device, or null when off")
    pre_roll_seconds: int
    post_roll_seconds: int
    segment_seconds: float
    record_raw: bool = Field(description="the unredacted feed is recorded too (site policy)")


class Effective(BaseModel):
    """What the relay applies: the site's policy combined with these settings."""

    ai_models: list[str]
    redact_faces: bool
    redaction_from: str | None = Field(description="site, device, or null when off")
    recording: EffectiveRecording | None = None


def effective_recording(policy: RecordingPolicy, default_segment: float) -> EffectiveRecording:
    """The API's view of a device's effective recording policy."""
    return EffectiveRecording(
        mode=policy.mode,
        mode_from=policy.mode_from,
        pre_roll_seconds=policy.pre_roll_seconds,
        post_roll_seconds=policy.post_roll_seconds,
        segment_seconds=policy.segment_seconds or default_segment,
        record_raw=policy.record_raw,
    )


class StreamPublic(StreamUpdate):
    device_id: str
    effective: Effective | None = None


def _config(body: StreamUpdate) -> StreamConfig:
    fields = body.model_dump(exclude={"recording"})
    recording = body.recording
    return StreamConfig(
        **fields,
        recording_mode=recording.mode,
        pre_roll_seconds=recording.pre_roll_seconds,
        post_roll_seconds=recording.post_roll_seconds,
        segment_seconds=recording.segment_seconds,
    )


def _public(stream: DeviceStream, default_segment: float) -> StreamPublic:
    config = asdict(stream.config)
    recording = DeviceRecording(
        mode=config.pop("recording_mode"),
        pre_roll_seconds=config.pop("pre_roll_seconds"),
        post_roll_seconds=config.pop("post_roll_seconds"),
        segment_seconds=config.pop("segment_seconds"),
    )
    public = StreamPublic(device_id=stream.device_id, recording=recording, **config)
    policy = stream.policy
    if policy is not None:
        public.effective = Effective(
            ai_models=list(policy.ai_models),
            redact_faces=policy.redact_faces,
            redaction_from=policy.redaction_from,
            recording=effective_recording(policy.recording, default_segment),
        )
    return public


@router.get("/{device_id}", summary="Read stream settings", responses=problems(404, 422))
async def read(device_id: str, principal: Viewer, services: ServicesDep) -> StreamPublic:
    """The stream settings of a device in your scope."""
    await visible_device(services, principal, device_id, "camera_view")
    default = services.recordings.settings.segment_seconds
    return _public(await services.streams.stream(device_id), default)


@router.put("/{device_id}", summary="Set stream settings", responses=problems(BODY, 404))
async def update(
    device_id: str,
    body: StreamUpdate,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> StreamPublic:
    """Set processors, redaction, encoding and recording; relays apply it on the next frame."""
    await visible_device(services, principal, device_id, "device_manage")
    stream = await services.streams.configure(
        device_id, _config(body), by=principal, address=address
    )
    return _public(stream, services.recordings.settings.segment_seconds)
