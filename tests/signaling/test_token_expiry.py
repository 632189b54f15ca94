"""A signaling socket lives only as long as its access token, unless it sends ``reauth``.

The server runs in the test's loop on a hand-turned clock with the shortest token
lifetime (60 s), so a minute passes in no time: a socket that never renews is closed
with 4401 the moment its token ends, not a second before; one that sent a fresh token
of the same user stays and answers until that token ends; a reauth with someone
else's token or garbage closes at once; the agent renews by itself and never
reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from lensguard.agent.driver import SimulatedRobot
from lensguard.agent.runner import Agent, AgentConfig
from lensguard.agent.sources import SyntheticScene
from lensguard.clock import ManualClock
from tests.harness.inprocess import InProcessServer, serve_in_process
from tests.harness.world import Peer

LIFETIME = 60
IO_WAIT = 10.0
"""Seconds a socket close or a reply may take to arrive (real I/O, not a timer)."""


async def open_peer(server: InProcessServer, token: str) -> Peer:
    peer = Peer(await connect(server.ws_url, ssl=server.ssl()))
    await peer.send({"type": "auth", "token": token})
    peer.id = (await peer.recv("ready", wait=IO_WAIT))["id"]
    return peer


async def still_served(peer: Peer) -> bool:
    await peer.send({"type": "subscribe", "device_id": "nosuchdevice"})
    reply = await peer.recv("error", wait=IO_WAIT)
    return bool(reply["code"] == "not_found")


async def arrived(check: Callable[[], bool]) -> None:
    """Wait for a message in flight to land (polling real I/O, bounded)."""
    async with asyncio.timeout(IO_WAIT):
        while not check():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running_agent(
    server: InProcessServer, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Agent]:
    """An agent on the server's clock, published and online until the block ends."""
    device_id, credential = await server.device(f"robot-{uuid.uuid4().hex[:8]}", "site-a")
    key = tmp_path / f"{device_id}.key"
    key.touch(mode=0o600)
    key.write_text(credential)
    robot = SimulatedRobot()
    scene = SyntheticScene(320, 240, fps=5, viewport=robot.viewport)
    config = AgentConfig(server=server.base_url, credential_file=key, ca_file=server.cert_path)
    agent = Agent(config, scene, robot, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await asyncio.wait_for(agent.online.wait(), 30)
        yield agent
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        scene.stop()


def socket_token(server: InProcessServer, connection: str | None) -> str | None:
    session = server.services.hub.sessions.get(connection or "")
    return session.credential.token if session is not None else None


async def test_sockets_end_with_their_token_unless_renewed(
    make_settings: Any, sqlite_url: str, tmp_path: Path, manual_clock: ManualClock
) -> None:
    clock = manual_clock
    start = clock.time()
    settings = make_settings(
        database={"url": sqlite_url},
        security={"authentication": {"token_expiry": LIFETIME}},
        limits={"requests_per_minute": 100_000},
    )
    async with serve_in_process(settings, clock) as server:
        await server.user("expiring", "viewer")
        await server.user("someone-else", "viewer")
        first = await server.login("expiring")
        stale = await open_peer(server, first)
        renewed = await open_peer(server, first)
        mismatched = await open_peer(server, first)
        garbage = await open_peer(server, first)

        await mismatched.send({"type": "reauth", "token": await server.login("someone-else")})
        assert await mismatched.closed_with(wait=IO_WAIT) == 4401
        await garbage.send({"type": "reauth", "token": "not-a-token"})
        assert await garbage.closed_with(wait=IO_WAIT) == 4401

        async with running_agent(server, tmp_path, clock) as agent:
            device_token = socket_token(server, agent.connection_id)
            assert device_token is not None

            await clock.advance(2)  # a fresh login gets a later expiry
            await renewed.send({"type": "reauth", "token": await server.login("expiring")})
            reply = await renewed.recv("reauthed", wait=IO_WAIT)
            assert reply["expires_at"] == start + 2 + LIFETIME

            # Past three quarters of its token's life the agent fetches a new one and
            # hands it to its live socket.
            await clock.advance(48)
            await arrived(lambda: socket_token(server, agent.connection_id) != device_token)

            await clock.advance(9)  # one second before the first token ends
            assert await still_served(stale)
            await clock.advance(1)
            assert await stale.closed_with(wait=IO_WAIT) == 4401
            assert await still_served(renewed)

            await clock.advance(2)  # the renewed token ends too: no second reauth came
            assert await renewed.closed_with(wait=IO_WAIT) == 4401

            # The agent handed its socket fresh tokens: published once, never reconnected.
            assert agent.published == 1
            assert agent.online.is_set()
            assert socket_token(server, agent.connection_id) is not None
