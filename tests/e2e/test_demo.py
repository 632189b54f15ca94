"""`make run`'s embedded demo: the server starts its own robot, watchable at once."""

from pathlib import Path

import pytest

from tests.harness.server import start_server
from tests.harness.world import World, auth, bootstrap_admin, open_peer
from tests.media.test_relay import RelayViewer

pytestmark = pytest.mark.slow


async def test_dev_server_runs_a_watchable_demo_robot(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"mode": "dev", "demo": {"enabled": True}})
    viewer = None
    try:
        world = World(server, bootstrap_admin(server))
        assert (server.var_dir / "demo-device.key").stat().st_mode & 0o777 == 0o600
        with world.http() as client:
            devices = client.get("/api/v1/devices", headers=auth(world.admin)).json()
            demo = next(d for d in devices if d["name"] == "demo-robot")
            stream = client.get(f"/api/v1/streams/{demo['id']}", headers=auth(world.admin))
        assert demo["site"] == "demo"
        assert stream.json()["redact_faces"] is True  # the demo shows redaction at once
        viewer = RelayViewer(await open_peer(world, world.admin))
        for _ in range(50):  # the robot connects a moment after the server starts
            await viewer.peer.send({"type": "subscribe", "device_id": demo["id"], "mode": "relay"})
            reply = await viewer.peer.recv(wait=20)
            if reply["type"] == "subscribed":
                break
        await viewer.offer_to(reply["peer"])
        await viewer.frames_at_least(15)
    finally:
        if viewer is not None:
            await viewer.close()
        server.stop()
    assert "Demo robot 'demo-robot'" in server.output()
