"""``/api/v1/sites/{site}/policy``: stream rules for every device of a site.

A site's policy is a floor its devices cannot lower: with ``redact_faces`` on, every
stream of the site is redacted whatever the device's own settings say. Changes
apply live on every node and are audited.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from lensguard.access.principal import Principal, Resource
from lensguard.api.deps import AddressDep, ServicesDep, authorize, requires
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.api.processors import MAX_MODELS
from lensguard.api.streams import RecordingMode
from lensguard.streams.room import SiteRules, SiteStreams

router = APIRouter(prefix="/api/v1/sites", tags=["sites"], responses=problems(AUTHENTICATED))
Viewer = Annotated[Principal, requires("camera_view")]
Manager = Annotated[Principal, requires("device_manage")]
SiteName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class SiteRecording(BaseModel):
    """The site's recording floor: no device of the site records less than this."""

    model_config = ConfigDict(extra="forbid")

    mode: RecordingMode = Field(
        default="off", description="off, continuous, on_event or on_demand (a floor)"
    )
    pre_roll_seconds: int | None = Field(default=None, ge=0, le=30)
    post_roll_seconds: int | None = Field(default=None, ge=0, le=300)
    segment_seconds: float | None = Field(default=None, ge=2.0, le=10.0)
    record_raw: bool = Field(
        default=False,
        description="also record the unredacted feed under its own keys; raw segments "
        "play only through an audited break-glass grant",
    )


class SitePolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redact_faces: bool = False
    ai_models: list[str] = Field(default_factory=list, max_length=MAX_MODELS)
    recording: SiteRecording = Field(default_factory=SiteRecording)


class SitePolicyPublic(SitePolicyUpdate):
    site: str
    devices: int = Field(description="how many devices of the site the policy covers")


def _site(site: str) -> Resource:
    return Resource(kind="site", site=site)


def _rules(body: SitePolicyUpdate) -> SiteRules:
    recording = body.recording
    return SiteRules(
        redact_faces=body.redact_faces,
        ai_models=list(body.ai_models),
        recording_mode=recording.mode,
        pre_roll_seconds=recording.pre_roll_seconds,
        post_roll_seconds=recording.post_roll_seconds,
        segment_seconds=recording.segment_seconds,
        record_raw=recording.record_raw,
    )


def _public(found: SiteStreams) -> SitePolicyPublic:
    rules = asdict(found.rules)
    recording = SiteRecording(
        mode=rules.pop("recording_mode"),
        pre_roll_seconds=rules.pop("pre_roll_seconds"),
        post_roll_seconds=rules.pop("post_roll_seconds"),
        segment_seconds=rules.pop("segment_seconds"),
        record_raw=rules.pop("record_raw"),
    )
    return SitePolicyPublic(site=found.site, devices=found.devices, recording=recording, **rules)


@router.get("/{site}/policy", summary="Read a site policy", responses=problems(404, 422))
async def read(site: SiteName, principal: Viewer, services: ServicesDep) -> SitePolicyPublic:
    """The stream policy of a site in your scope."""
    authorize(principal, "camera_view", _site(site), hide=True)
    return _public(await services.streams.site(site))


@router.put("/{site}/policy", summary="Set a site policy", responses=problems(BODY, 404))
async def update(
    site: SiteName,
    body: SitePolicyUpdate,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> SitePolicyPublic:
    """Set the site's redaction, processors and recording; every node applies it live."""
    authorize(principal, "device_manage", _site(site), hide=True)
    return _public(
        await services.streams.configure_site(site, _rules(body), by=principal, address=address)
    )
