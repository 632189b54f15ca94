"""Refused signaling actions reach the audit chain, written before the refusal is answered."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lensguard.wire.closes import Close
from tests.signaling.conftest import Peer, World, auth, open_peer

pytestmark = pytest.mark.slow


def audit_entries(world: World, **filters: str) -> list[dict[str, Any]]:
    with world.http() as client:
        page = client.get(
            "/api/v1/audit", headers=auth(world.admin), params={**filters, "limit": "500"}
        )
    page.raise_for_status()
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def assert_chain_verifies(world: World) -> None:
    with world.http() as client:
        verified = client.get("/api/v1/audit/verify", headers=auth(world.admin)).json()
    assert verified["ok"] is True, verified


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_subscribing_to_an_unseen_device_is_recorded(world: World, peers: list[Peer]) -> None:
    device_id, _ = world.device(unique("far"), "site-z")
    name = unique("local")
    viewer = await open_peer(world, world.user(name, "viewer", sites=["site-a"]))
    peers.append(viewer)
    await viewer.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
    assert (await viewer.recv("error"))["code"] == "not_found"
    [entry] = audit_entries(world, action="access.denied", resource_id=device_id)
    assert (entry["outcome"], entry["actor_type"], entry["actor_name"]) == (
        "denied",
        "user",
        name,
    )
    assert entry["resource_type"] == "device" and entry["source_address"] == "127.0.0.1"
    assert entry["details"]["action"] == "camera_view"
    assert entry["details"]["site"] == "site-z" and entry["details"]["count"] == 1
    # Repeats inside the window are counted, not written again.
    for _ in range(5):
        await viewer.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
        await viewer.recv("error")
    assert len(audit_entries(world, action="access.denied", resource_id=device_id)) == 1
    assert_chain_verifies(world)


async def test_a_control_command_the_role_forbids_is_recorded(
    world: World, peers: list[Peer]
) -> None:
    device_id, credential = world.device(unique("rover"), "site-a")
    device = await open_peer(world, credential)
    peers.append(device)
    await device.send({"type": "publish"})
    await device.recv("published")
    name = unique("watcher")
    viewer = await open_peer(world, world.user(name, "viewer"))
    peers.append(viewer)
    await viewer.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
    await viewer.recv("subscribed")
    await viewer.send({"type": "control", "device_id": device_id, "command": "move", "seq": 1})
    assert (await viewer.recv("error"))["code"] == "forbidden"
    refused = [
        e
        for e in audit_entries(world, resource_id=device_id)
        if e["outcome"] == "denied" and e["actor_name"] == name
    ]
    assert [(e["action"], e["details"]["action"], e["details"]["command"]) for e in refused] == [
        ("control.command", "basic_control", "move")
    ]
    assert refused[0]["details"]["count"] == 1
    assert refused[0]["source_address"] == "127.0.0.1"
    assert_chain_verifies(world)


async def test_a_socket_with_a_bad_token_is_recorded_by_address(world: World) -> None:
    before = {e["seq"] for e in audit_entries(world, action="auth.rejected")}
    peer = await open_peer(world, None)
    await peer.send({"type": "auth", "token": "eyJhbGciOiJub25lIn0.e30."})
    assert await peer.closed_with() == Close.UNAUTHENTICATED
    new = [e for e in audit_entries(world, action="auth.rejected") if e["seq"] not in before]
    assert len(new) == 1
    [entry] = new
    assert (entry["outcome"], entry["actor_type"]) == ("denied", "anonymous")
    assert (entry["actor_id"], entry["actor_name"]) == (None, None)
    assert entry["source_address"] == "127.0.0.1"
    assert entry["details"]["action"] == "signal_auth" and entry["details"]["count"] == 1
    assert_chain_verifies(world)


async def test_a_refused_reauth_is_recorded_against_the_socket_owner(
    world: World, peers: list[Peer]
) -> None:
    name = unique("reauther")
    viewer = await open_peer(world, world.user(name, "viewer"))
    peers.append(viewer)
    await viewer.send({"type": "reauth", "token": "eyJhbGciOiJub25lIn0.e30."})
    assert await viewer.closed_with() == Close.UNAUTHENTICATED
    [entry] = [e for e in audit_entries(world, action="auth.rejected") if e["actor_name"] == name]
    assert entry["actor_type"] == "user" and entry["details"]["action"] == "signal_reauth"
    assert entry["details"]["reason"] == "reauth refused"
