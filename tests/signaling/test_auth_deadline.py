"""An unauthenticated socket gets ``auth_timeout`` seconds on the app's clock, no more."""

from __future__ import annotations

from typing import Any

from websockets.asyncio.client import connect

from lensguard.clock import ManualClock
from tests.harness.inprocess import serve_in_process
from tests.harness.world import Peer

AUTH_TIMEOUT = 5.0
IO_WAIT = 10.0


async def test_silence_closes_the_socket_at_the_auth_deadline(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock
) -> None:
    clock = manual_clock
    settings = make_settings(database={"url": sqlite_url}, signaling={"auth_timeout": AUTH_TIMEOUT})
    async with serve_in_process(settings, clock) as server:
        await server.user("late", "viewer")
        token = await server.login("late")
        silent = Peer(await connect(server.ws_url, ssl=server.ssl()))
        punctual = Peer(await connect(server.ws_url, ssl=server.ssl()))
        await clock.advance(AUTH_TIMEOUT - 0.5)
        await punctual.send({"type": "auth", "token": token})
        assert (await punctual.recv("ready", wait=IO_WAIT))["principal"]["kind"] == "user"
        await clock.advance(0.5)
        assert await silent.closed_with(wait=IO_WAIT) == 4401
        assert silent.ws.close_reason == "authenticate within the first message"
        await clock.advance(AUTH_TIMEOUT)  # an authenticated socket has no such deadline
        await punctual.send({"type": "subscribe", "device_id": "nosuchdevice"})
        assert (await punctual.recv("error", wait=IO_WAIT))["code"] == "not_found"
        await punctual.ws.close()
