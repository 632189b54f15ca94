"""Signaling across two nodes sharing PostgreSQL and Redis (bus over Redis pub/sub).

Device presence lives in Redis too, so both nodes' device lists agree.
"""

from pathlib import Path

import pytest

from lensguard.wire.closes import Close
from tests.harness.ice import sample_offer
from tests.harness.server import start_server, strong_secret
from tests.signaling.conftest import World, auth, bootstrap_admin, open_peer

pytestmark = pytest.mark.slow


async def test_viewer_on_one_node_reaches_device_on_the_other(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    env = {"LENSGUARD_SECRET_KEY": strong_secret()}
    config = {"database": {"url": pg_url}, "redis": {"url": redis_url}}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    node_a = start_server(tmp_path / "a", config, env=env)
    node_b = start_server(tmp_path / "b", config, env=env)
    peers = []
    try:
        world_a = World(node_a, bootstrap_admin(node_a))
        world_b = World(node_b, world_a.admin)
        device_id, credential = world_a.device("rover-x", "site-a")
        operator = world_a.user("op-x", "operator")

        device = await open_peer(world_b, credential)
        viewer = await open_peer(world_a, operator)
        peers += [device, viewer]
        await device.send({"type": "publish"})
        await device.recv("published")
        await viewer.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
        assert (await viewer.recv("subscribed"))["peer"] == device.id
        await viewer.send({"type": "offer", "to": device.id, "sdp": await sample_offer()})
        assert (await device.recv("offer"))["from"] == viewer.id
        await viewer.send({"type": "control", "device_id": device_id, "command": "stop", "seq": 3})
        assert (await device.recv("control"))["from"]["name"] == "op-x"

        # Presence is cluster-wide: node A reads the device on node B as online.
        assert online(world_a, operator, device_id) is online(world_b, operator, device_id) is True
        await device.ws.close()
        assert (await viewer.recv("leave"))["from"] == device.id
        assert online(world_a, operator, device_id) is online(world_b, operator, device_id) is False

        # Logging out on node B closes the viewer's socket on node A.
        with world_b.http() as client:
            assert client.post("/api/v1/auth/logout", headers=auth(operator)).status_code == 204
        assert await viewer.closed_with() == Close.UNAUTHENTICATED
    finally:
        for peer in peers:
            await peer.ws.close()
        node_a.stop()
        node_b.stop()


def online(world: World, token: str, device_id: str) -> bool:
    """The device's ``online`` as one node's API reports it, in the list and alone."""
    with world.http() as client:
        listed = client.get("/api/v1/devices", headers=auth(token)).json()
        one = client.get(f"/api/v1/devices/{device_id}", headers=auth(token)).json()
    (entry,) = [d for d in listed if d["id"] == device_id]
    assert entry["online"] is one["online"]
    return bool(one["online"])
