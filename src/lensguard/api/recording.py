"""``/api/v1/devices/{device_id}/recording``: is a device recorded, and on-demand start/stop.

``GET`` says what the device's policy records and whether a recording runs now (on
whichever node holds the device). With the policy's mode ``on_demand``, a person
holding ``recording_manage`` on the device starts a recording with ``POST`` and ends
it with ``DELETE``; both are audited (``recording.started``, ``recording.stopped``).
The node holding the device starts or seals the recording a moment later, so
``POST`` answers 202 and ``GET`` shows ``recording: true`` once it runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.devices import visible_device
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.errors import Conflict
from lensguard.recordings.demand import start_demand, stop_demand
from lensguard.recordings.manager import RecordingStatus

router = APIRouter(prefix="/api/v1/devices", tags=["recording"], responses=problems(AUTHENTICATED))
Viewer = Annotated[Principal, requires("camera_view")]
Manager = Annotated[Principal, requires("recording_manage")]


class RecordingStatePublic(BaseModel):
    """Whether a device is recorded now, and why."""

    mode: str = Field(description="the effective mode: off, continuous, on_event or on_demand")
    recording: bool = Field(description="a recording of the processed stream runs now")
    recording_id: str | None = None
    since: datetime | None = Field(default=None, description="when that recording started")
    requested: bool = Field(description="an on-demand recording was started and not stopped")


def _public(status: RecordingStatus) -> RecordingStatePublic:
    return RecordingStatePublic(
        mode=status.mode,
        recording=status.recording,
        recording_id=status.recording_id,
        since=status.since,
        requested=status.requested,
    )


@router.get("/{device_id}/recording", summary="Read recording state", responses=problems(404, 422))
async def read(device_id: str, principal: Viewer, services: ServicesDep) -> RecordingStatePublic:
    """The device's recording mode and whether it is being recorded now."""
    await visible_device(services, principal, device_id, "camera_view")
    return _public(await services.recorder.status(device_id))


@router.post(
    "/{device_id}/recording",
    status_code=202,
    summary="Start an on-demand recording",
    responses=problems(404, 409, 422),
)
async def start(
    device_id: str, principal: Manager, services: ServicesDep, address: AddressDep
) -> RecordingStatePublic:
    """Record the device until stopped (its mode must be on_demand); audited."""
    await visible_device(services, principal, device_id, "recording_manage")
    policy = await services.streams.policy(device_id)
    mode = policy.recording.mode if policy is not None else "off"
    if mode != "on_demand":
        raise Conflict(
            f"this device's recording mode is {mode}: on-demand recording needs mode on_demand"
        )
    await start_demand(
        services.db,
        services.audit,
        services.bus,
        device_id,
        by=principal,
        address=address,
        now=services.clock.now(),
    )
    return _public(await services.recorder.status(device_id))


@router.delete(
    "/{device_id}/recording",
    summary="Stop an on-demand recording",
    responses=problems(404, 422),
)
async def stop(
    device_id: str, principal: Manager, services: ServicesDep, address: AddressDep
) -> RecordingStatePublic:
    """End the device's on-demand recording (sealed); audited. Nothing running: unchanged."""
    await visible_device(services, principal, device_id, "recording_manage")
    await stop_demand(
        services.db,
        services.audit,
        services.bus,
        device_id,
        by=principal,
        address=address,
        now=services.clock.now(),
    )
    return _public(await services.recorder.status(device_id))
