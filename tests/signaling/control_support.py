"""Helpers for the control-lock tests: in-process servers on a hand-turned clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import connect

from tests.harness.inprocess import InProcessServer
from tests.harness.world import Peer

IO_WAIT = 10.0
"""Seconds a reply or an audit row may take to arrive (real I/O, not a timer)."""


async def open_peer(server: InProcessServer, token: str) -> Peer:
    peer = Peer(await connect(server.ws_url, ssl=server.ssl()))
    await peer.send({"type": "auth", "token": token})
    peer.id = (await peer.recv("ready", wait=IO_WAIT))["id"]
    return peer


async def publishing(server: InProcessServer, peers: list[Peer]) -> tuple[str, Peer]:
    """A registered device whose socket has published: (device id, its socket)."""
    device_id, credential = await server.device(f"robot-{uuid.uuid4().hex[:8]}", "site-a")
    device = await open_peer(server, credential)
    peers.append(device)
    await device.send({"type": "publish"})
    await device.recv("published", wait=IO_WAIT)
    return device_id, device


async def watching(
    server: InProcessServer, token: str, device_id: str, peers: list[Peer]
) -> tuple[Peer, dict[str, Any]]:
    """A socket watching the device (direct mode) and the holder it was told of."""
    peer = await open_peer(server, token)
    peers.append(peer)
    await peer.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
    # Both come, in either order: "subscribed" from the device, the holder from the node.
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < 2:
        message = await peer.recv(wait=IO_WAIT)
        if message["type"] in ("subscribed", "control_holder"):
            seen[message["type"]] = message
    told = seen["control_holder"]
    assert told["reason"] == "current"
    return peer, told


def move(device_id: str, seq: int, linear: float = 0.5) -> dict[str, Any]:
    return {
        "type": "control",
        "device_id": device_id,
        "command": "move",
        "args": {"linear": linear},
        "seq": seq,
    }


def stop(device_id: str, seq: int) -> dict[str, Any]:
    return {"type": "control", "device_id": device_id, "command": "stop", "seq": seq}


async def holder_news(peer: Peer) -> tuple[str | None, str]:
    """The next ``control_holder``: (holder's name or None, reason)."""
    told = await peer.recv("control_holder", wait=IO_WAIT)
    holder = told["holder"]
    return (holder["name"] if holder else None), str(told["reason"])


async def audit_rows(
    server: InProcessServer, admin: str, device_id: str, action: str
) -> list[dict[str, Any]]:
    """The device's audit entries of ``action``, oldest first."""
    async with server.http() as client:
        response = await client.get(
            f"/api/v1/audit?resource_id={device_id}&action={action}&limit=500",
            headers={"Authorization": f"Bearer {admin}"},
        )
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return sorted(items, key=lambda e: int(e["seq"]))


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for work in flight (an audit write, a message) to land: bounded polling."""
    async with asyncio.timeout(IO_WAIT):
        while not await check():
            await asyncio.sleep(0.02)
    assert await check(), what
