"""The last camera pose commanded through the server: told to watchers, kept for newcomers.

A console steps pan, tilt and zoom from where the camera points; the server says where
that is (``camera_pose``) on every forwarded ``ptz`` and to each new watcher.
"""

from __future__ import annotations

from typing import Any

import pytest

from lensguard.clock import ManualClock
from tests.harness.inprocess import serve_in_process
from tests.harness.world import Peer
from tests.signaling.control_support import IO_WAIT, publishing, watching

pytestmark = pytest.mark.slow


def ptz(device_id: str, seq: int, **pose: float) -> dict[str, Any]:
    return {"type": "control", "device_id": device_id, "command": "ptz", "args": pose, "seq": seq}


async def test_a_ptz_command_moves_the_pose_every_watcher_sees(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, peers: list[Peer]
) -> None:
    settings = make_settings(database={"url": sqlite_url}, limits={"requests_per_minute": 100_000})
    async with serve_in_process(settings, manual_clock) as server:
        await server.user("root", "admin")
        await server.user("vic", "viewer")
        await server.user("ann", "operator")
        device_id, device = await publishing(server, peers)
        root, _ = await watching(server, await server.login("root"), device_id, peers)
        vic, _ = await watching(server, await server.login("vic"), device_id, peers)

        await root.send(ptz(device_id, 1, pan=-0.5, tilt=0.25, zoom=0.75))
        sent = await device.recv("control", wait=IO_WAIT)
        assert sent["args"] == {
            "linear": 0.0,
            "angular": 0.0,
            "pan": -0.5,
            "tilt": 0.25,
            "zoom": 0.75,
        }
        for peer in (root, vic):
            moved = await peer.recv("camera_pose", wait=IO_WAIT)
            assert (moved["pan"], moved["tilt"], moved["zoom"]) == (-0.5, 0.25, 0.75)
            assert moved["reason"] == "moved"
            assert moved["by"]["name"] == "root" and moved["by"]["connection"] == root.id

        # A refused ptz moves nothing and tells nobody.
        ann, _ = await watching(server, await server.login("ann"), device_id, peers)
        told = await ann.recv("camera_pose", wait=IO_WAIT)  # a newcomer learns the pose
        assert (told["pan"], told["tilt"], told["zoom"], told["reason"]) == (
            -0.5,
            0.25,
            0.75,
            "current",
        )
        assert "by" not in told
        await ann.send(ptz(device_id, 1, pan=1.0))
        assert (await ann.recv("error", wait=IO_WAIT))["code"] == "forbidden"
        await root.send(ptz(device_id, 2, pan=0.125))
        moved = await vic.recv("camera_pose", wait=IO_WAIT)
        assert (moved["pan"], moved["tilt"], moved["zoom"]) == (0.125, 0.0, 0.0)


async def test_a_camera_never_moved_has_no_pose_to_tell(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, peers: list[Peer]
) -> None:
    settings = make_settings(database={"url": sqlite_url})
    async with serve_in_process(settings, manual_clock) as server:
        await server.user("root", "admin")
        device_id, _ = await publishing(server, peers)
        root, _ = await watching(server, await server.login("root"), device_id, peers)
        # Had a pose been told on subscribe, it would come before this refusal.
        await root.send({"type": "control", "device_id": "nope", "command": "stop", "seq": 1})
        refused = await root.recv(wait=IO_WAIT)
        assert refused["type"] == "error" and refused["code"] == "not_subscribed"
