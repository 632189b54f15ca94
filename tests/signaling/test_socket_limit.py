"""A node holds at most ``max_sockets_per_node`` signaling sockets; one more gets 1013."""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import connect

from lensguard.clock import ManualClock
from tests.harness.inprocess import serve_in_process
from tests.harness.world import Peer

IO_WAIT = 10.0


async def test_the_socket_over_the_limit_is_told_when_to_retry_and_the_others_carry_on(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock
) -> None:
    settings = make_settings(
        database={"url": sqlite_url},
        signaling={"max_sockets_per_node": 2, "capacity_retry_seconds": 45},
    )
    async with serve_in_process(settings, manual_clock) as server:
        hub = server.services.hub
        await server.user("ada", "viewer")
        token = await server.login("ada")
        signed_in = Peer(await connect(server.ws_url, ssl=server.ssl()))
        await signed_in.send({"type": "auth", "token": token})
        await signed_in.recv("ready", wait=IO_WAIT)
        idle = Peer(await connect(server.ws_url, ssl=server.ssl()))  # not yet authenticated
        refused = Peer(await connect(server.ws_url, ssl=server.ssl()))
        assert await refused.closed_with(wait=IO_WAIT) == 1013
        assert refused.ws.close_reason == "node at capacity; retry_after=45"
        assert hub.open_sockets == 2
        # Those already connected are untouched.
        await signed_in.send({"type": "subscribe", "device_id": "nosuchdevice"})
        assert (await signed_in.recv("error", wait=IO_WAIT))["code"] == "not_found"
        await idle.ws.close()
        await asyncio.wait_for(_until_released(hub, 1), IO_WAIT)  # the server saw the close
        after = Peer(await connect(server.ws_url, ssl=server.ssl()))
        await after.send({"type": "auth", "token": token})
        assert (await after.recv("ready", wait=IO_WAIT))["principal"]["kind"] == "user"
        await after.ws.close()
        await signed_in.ws.close()
        await asyncio.wait_for(_until_released(hub, 0), IO_WAIT)


async def _until_released(hub: Any, count: int) -> None:
    while hub.open_sockets != count:
        await asyncio.sleep(0.01)  # socket I/O on this loop, not a timer
