"""The signaling socket against a real server: auth, scope, pairing, control, limits."""

import json
import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from lensguard.wire.client import MAX_SDP_BYTES
from lensguard.wire.closes import Close
from tests.harness.ice import sample_offer
from tests.signaling.conftest import Peer, World, auth, open_peer

pytestmark = pytest.mark.slow


async def pair(world: World, peers: list[Peer], viewer_token: str, site: str = "site-a"):  # type: ignore[no-untyped-def]
    """A publishing device and a viewer subscribed to it in direct mode."""
    device_id, credential = world.device(f"dev-{uuid.uuid4().hex[:12]}", site)
    device = await open_peer(world, credential)
    peers.append(device)
    await device.send({"type": "publish"})
    assert (await device.recv("published"))["device_id"] == device_id
    viewer = await open_peer(world, viewer_token)
    peers.append(viewer)
    await viewer.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
    joined = await device.recv("viewer")
    subscribed = await viewer.recv("subscribed")
    assert joined["from"] == viewer.id and subscribed["peer"] == device.id
    return device_id, device, viewer


async def test_no_auth_message_closes_with_4401(world: World) -> None:
    peer = await open_peer(world, None)
    assert await peer.closed_with() == Close.UNAUTHENTICATED


async def test_bad_credential_closes_with_4401(world: World) -> None:
    peer = await open_peer(world, None)
    await peer.send({"type": "auth", "token": "eyJhbGciOiJub25lIn0.e30."})
    assert await peer.closed_with() == Close.UNAUTHENTICATED


async def test_first_message_must_be_auth(world: World) -> None:
    peer = await open_peer(world, None)
    await peer.send({"type": "publish"})
    assert await peer.closed_with() == Close.UNAUTHENTICATED


async def test_foreign_origin_is_refused_before_accept(world: World) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(world.ws_url, ssl=world.ssl(), origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    own = world.server.base_url
    ok = await connect(world.ws_url, ssl=world.ssl(), origin=own)  # type: ignore[arg-type]
    await ok.close()


async def test_offer_answer_and_control_are_routed_with_bound_identity(
    world: World, peers: list[Peer]
) -> None:
    operator = world.user("op1", "operator")
    device_id, device, viewer = await pair(world, peers, operator)
    sdp = await sample_offer()
    await viewer.send({"type": "offer", "to": device.id, "sdp": sdp})
    offer = await device.recv("offer")
    assert offer == {"type": "offer", "sdp": sdp, "from": viewer.id}
    await device.send({"type": "answer", "to": viewer.id, "sdp": sdp})
    assert (await viewer.recv("answer"))["sdp"] == sdp

    await viewer.send(
        {
            "type": "control",
            "device_id": device_id,
            "command": "move",
            "args": {"linear": 0.5},
            "seq": 1,
        }
    )
    control = await device.recv("control")
    assert control["command"] == "move" and control["args"]["linear"] == 0.5
    assert control["from"]["name"] == "op1" and control["from"]["kind"] == "user"


async def test_viewer_drive_command_is_refused(world: World, peers: list[Peer]) -> None:
    viewer_token = world.user("watcher", "viewer")
    device_id, device, viewer = await pair(world, peers, viewer_token)
    await viewer.send({"type": "control", "device_id": device_id, "command": "move", "seq": 1})
    refused = await viewer.recv("error")
    assert refused["code"] == "forbidden" and "basic_control" in refused["message"]
    # Nothing reached the device: its next message is the leave when the viewer goes.
    await viewer.ws.close()
    assert (await device.recv())["type"] == "leave"


async def test_cannot_reach_unpaired_connections(world: World, peers: list[Peer]) -> None:
    operator = world.user("op2", "operator")
    _, device, viewer = await pair(world, peers, operator)
    stranger = await open_peer(world, world.user("op3", "operator"))
    peers.append(stranger)
    await stranger.send({"type": "offer", "to": device.id, "sdp": "v=0 evil"})
    assert (await stranger.recv("error"))["code"] == "unknown_peer"
    good = await sample_offer()
    await viewer.send({"type": "offer", "to": device.id, "sdp": good})
    assert (await device.recv("offer"))["sdp"] == good


async def test_out_of_scope_device_looks_absent(world: World, peers: list[Peer]) -> None:
    device_id, _ = world.device("far-away", "site-z")
    viewer = await open_peer(world, world.user("local", "viewer", sites=["site-a"]))
    peers.append(viewer)
    await viewer.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
    hidden = await viewer.recv("error")
    await viewer.send({"type": "subscribe", "device_id": "nonexistent", "mode": "direct"})
    missing = await viewer.recv("error")
    assert hidden == missing == {"type": "error", "code": "not_found", "message": "no such device"}


async def test_only_devices_publish(world: World, peers: list[Peer]) -> None:
    peer = await open_peer(world, world.user("wannabe", "admin"))
    peers.append(peer)
    await peer.send({"type": "publish"})
    assert (await peer.recv("error"))["code"] == "forbidden"


@pytest.mark.parametrize(
    "frame",
    [
        json.dumps({"type": "offer", "to": "x", "sdp": "v" * (MAX_SDP_BYTES + 10)}),
        "{not json",
        json.dumps({"type": "teleport"}),
        json.dumps({"type": "auth", "token": "again"}),
    ],
)
async def test_violations_close_only_the_offender(
    world: World, peers: list[Peer], frame: str
) -> None:
    operator = world.user(f"op-v{uuid.uuid4().hex[:10]}", "operator")
    device_id, device, viewer = await pair(world, peers, operator)
    offender = await open_peer(world, world.user(f"bad{uuid.uuid4().hex[:10]}", "viewer"))
    await offender.ws.send(frame)
    assert await offender.closed_with() == Close.POLICY_VIOLATION
    await viewer.send({"type": "control", "device_id": device_id, "command": "stop", "seq": 9})
    assert (await device.recv("control"))["seq"] == 9


async def test_message_flood_closes_with_1008(world: World, peers: list[Peer]) -> None:
    flooder = await open_peer(world, world.user("flood", "viewer"))
    for _ in range(400):
        try:
            await flooder.send({"type": "leave"})
        except Exception:
            break
    assert await flooder.closed_with() == Close.POLICY_VIOLATION


async def test_logout_closes_the_live_socket(world: World, peers: list[Peer]) -> None:
    token = world.user("leaver", "operator")
    _, device, viewer = await pair(world, peers, token)
    with world.http() as client:
        assert client.post("/api/v1/auth/logout", headers=auth(token)).status_code == 204
    assert await viewer.closed_with() == Close.UNAUTHENTICATED
    assert (await device.recv("leave"))["from"] == viewer.id


async def test_scope_change_closes_the_stream(world: World, peers: list[Peer]) -> None:
    token = world.user("mover", "viewer", sites=["site-a"])
    _, _, viewer = await pair(world, peers, token)
    with world.http() as client:
        me = client.get("/api/v1/users/me", headers=auth(token)).json()
        changed = client.patch(
            f"/api/v1/users/{me['id']}", headers=auth(world.admin), json={"sites": ["site-b"]}
        )
        assert changed.status_code == 200
    assert await viewer.closed_with() == Close.ACCESS_CHANGED


async def test_views_and_commands_are_on_the_audit_trail(world: World, peers: list[Peer]) -> None:
    operator = world.user("audited-op", "operator")
    watcher = world.user("audited-viewer", "viewer")
    device_id, device, viewer = await pair(world, peers, operator)
    _, _, other = await pair(world, peers, watcher)
    await viewer.send({"type": "control", "device_id": device_id, "command": "stop", "seq": 7})
    await device.recv("control")
    await other.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
    await other.recv("subscribed")
    await other.send({"type": "control", "device_id": device_id, "command": "move", "seq": 1})
    await other.recv("error")
    await viewer.ws.close()
    await device.recv("leave")

    with world.http() as client:
        page = client.get(
            f"/api/v1/audit?resource_id={device_id}&limit=500", headers=auth(world.admin)
        ).json()["items"]
    seen = [(e["action"], e["outcome"], e["actor_name"]) for e in page]
    assert ("stream.view_start", "success", "audited-op") in seen
    assert ("control.command", "success", "audited-op") in seen
    assert ("control.command", "denied", "audited-viewer") in seen
    assert ("stream.view_stop", "success", "audited-op") in seen


async def test_signaling_feeds_the_metrics(world: World, peers: list[Peer]) -> None:
    operator = world.user("metered", "operator")
    await pair(world, peers, operator)
    with world.http() as client:
        text = client.get("/metrics", headers=auth(world.admin)).text
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values["lensguard_online_devices"] >= 1
    assert values["lensguard_viewers"] >= 1
    assert values['lensguard_signaling_messages_total{type="subscribe"}'] >= 1
    assert values['lensguard_signaling_messages_total{type="publish"}'] >= 1


async def test_device_reads_online_only_while_publishing(world: World, peers: list[Peer]) -> None:
    operator = world.user("presence-op", "operator")
    quiet_id, quiet_credential = world.device(f"dev-{uuid.uuid4().hex[:12]}", "site-a")
    quiet = await open_peer(world, quiet_credential)  # connected, never publishes
    peers.append(quiet)
    device_id, device, viewer = await pair(world, peers, operator)

    def online() -> dict[str, bool]:
        with world.http() as client:
            listed = client.get("/api/v1/devices?limit=200", headers=auth(operator)).json()
            one = client.get(f"/api/v1/devices/{device_id}", headers=auth(operator)).json()
        found = {d["id"]: d for d in listed}
        assert found[device_id] == one and one["last_seen_at"] is not None
        return {d: found[d]["online"] for d in (device_id, quiet_id)}

    assert online() == {device_id: True, quiet_id: False}
    await device.ws.close()
    # The server's cleanup clears presence before it tells the viewer the device left.
    assert (await viewer.recv("leave"))["from"] == device.id
    assert online() == {device_id: False, quiet_id: False}


async def test_a_cached_token_is_refused_at_once_after_its_session_is_ended(
    world: World, peers: list[Peer]
) -> None:
    # The server keeps verified tokens until they expire; ending the session must still
    # refuse this one on the next request, close its live socket, and refuse a new one.
    token = world.user("cached", "operator")
    with world.http() as client:
        for _ in range(2):  # verified in full, then from the cache
            assert client.get("/api/v1/users/me", headers=auth(token)).status_code == 200
        listed = client.get("/api/v1/sessions", headers=auth(token)).json()
        (mine,) = [s for s in listed if s["current"]]
    _, _, viewer = await pair(world, peers, token)
    with world.http() as client:
        ended = client.delete(f"/api/v1/sessions/{mine['id']}", headers=auth(world.admin))
        assert ended.status_code == 204
        assert client.get("/api/v1/users/me", headers=auth(token)).status_code == 401
    assert await viewer.closed_with() == Close.UNAUTHENTICATED
    again = await open_peer(world, None)
    peers.append(again)
    await again.send({"type": "auth", "token": token})
    assert await again.closed_with() == Close.UNAUTHENTICATED
