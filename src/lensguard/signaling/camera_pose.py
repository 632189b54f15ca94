"""The last camera pose commanded through the server, per device, and its announcements.

``ptz`` sets an absolute pose, so a console that steps the pan one notch must start
from where the camera points, not from where its own last command left it: another
operator may have moved it since. The server keeps the last pose it forwarded to each
camera (the embedded store, or Redis shared by every node), tells every node's
watchers when it changes (``camera_pose`` on the control bus channel, reason
``moved``), and tells a new watcher as it subscribes (reason ``current``). It is the
pose *commanded*, not one the camera measured: a camera moved by hand or reset at
power-up is not seen until the next command.
"""

from __future__ import annotations

import json
import math
from typing import Any

from lensguard.bus.base import Bus
from lensguard.bus.channels import CONTROL_HOLDERS
from lensguard.logs import get_logger
from lensguard.store.kv import ExpiringStore
from lensguard.wire import server

log = get_logger("lensguard.signaling")

POSE_TTL_SECONDS = 7 * 86_400
"""How long a pose is remembered without a new command (a week: then it reads unknown)."""
AXES = ("pan", "tilt", "zoom")
_RANGES = {"pan": (-1.0, 1.0), "tilt": (-1.0, 1.0), "zoom": (0.0, 1.0)}

Pose = dict[str, float]


def pose_key(device_id: str) -> str:
    return f"pose:device:{device_id}"


def pose_of(args: dict[str, Any]) -> Pose:
    """The pose in a ``ptz`` command's (validated) arguments."""
    return {axis: float(args.get(axis, 0.0)) for axis in AXES}


def parse_pose(text: str | None) -> Pose | None:
    """A stored pose, or None for none or for a record that is not a valid pose."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or set(value) != set(AXES):
        return None
    pose: Pose = {}
    for axis, (low, high) in _RANGES.items():
        number = value[axis]
        if isinstance(number, bool) or not isinstance(number, int | float):
            return None
        if not math.isfinite(number) or not low <= number <= high:
            return None
        pose[axis] = float(number)
    return pose


class CameraPoses:
    """Each camera's last commanded pose, and the news that it moved."""

    def __init__(self, store: ExpiringStore, bus: Bus) -> None:
        self.store = store
        self.bus = bus

    async def moved(self, device_id: str, pose: Pose, by: dict[str, str]) -> None:
        """A ``ptz`` command went to the camera: remember it, tell every watcher (never raises)."""
        try:
            await self.store.set(pose_key(device_id), json.dumps(pose), ttl=POSE_TTL_SECONDS)
        except Exception as exc:
            # The camera still moved; new watchers read the pose as unknown until the next.
            log.warning("camera_pose_store_failed", error=type(exc).__name__)
        try:
            await self.bus.publish(
                CONTROL_HOLDERS, server.camera_pose(device_id, pose, "moved", by=by)
            )
        except Exception as exc:
            log.warning("camera_pose_broadcast_failed", error=type(exc).__name__)

    async def current(self, device_id: str) -> Pose | None:
        """The camera's last commanded pose, or None when none is known."""
        return parse_pose(await self.store.get(pose_key(device_id)))
