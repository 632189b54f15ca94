"""A signaling socket lives only as long as its access token, unless it sends ``reauth``.

One server with the shortest token lifetime (60 s). Over one wait past the expiry:
a socket that never renews is closed with 4401; one that sent a fresh token of the
same user stays and answers; a reauth with someone else's token or garbage closes at
once; the agent renews by itself and never reconnects.
"""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.support import running_agent
from tests.harness.world import PASSWORD, World, open_peer, tmp_world

pytestmark = pytest.mark.slow
LIFETIME = 60


@pytest.fixture(scope="module")
def short_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = tmp_world(
        tmp_path_factory.mktemp("expiry"),
        {"security": {"authentication": {"token_expiry": LIFETIME}}},
    )
    try:
        yield world
    finally:
        world.server.stop()


def login(world: World, username: str) -> str:
    with world.http() as client:
        response = client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


async def test_sockets_end_with_their_token_unless_renewed(
    short_world: World, tmp_path: Path
) -> None:
    world = short_world
    first = world.user("expiring", "viewer")
    world.user("someone-else", "viewer")
    started = time.monotonic()
    stale = await open_peer(world, first)
    renewed = await open_peer(world, first)
    mismatched = await open_peer(world, first)
    garbage = await open_peer(world, first)

    await mismatched.send({"type": "reauth", "token": login(world, "someone-else")})
    assert await mismatched.closed_with(wait=10) == 4401
    await garbage.send({"type": "reauth", "token": "not-a-token"})
    assert await garbage.closed_with(wait=10) == 4401

    async with running_agent(world, tmp_path) as agent:
        await asyncio.sleep(2)  # a fresh login gets a later expiry
        await renewed.send({"type": "reauth", "token": login(world, "expiring")})
        reply = await renewed.recv("reauthed", wait=10)
        assert reply["expires_at"] > time.time() + LIFETIME - 10

        remaining = started + LIFETIME - time.monotonic()
        assert await stale.closed_with(wait=remaining + 15) == 4401
        await renewed.send({"type": "subscribe", "device_id": "nosuchdevice"})
        assert (await renewed.recv("error", wait=10))["code"] == "not_found"  # still served
        await asyncio.sleep(max(0.0, started + LIFETIME + 5 - time.monotonic()))
        # The agent handed its socket fresh tokens: published once, never reconnected.
        assert agent.agent.published == 1
        assert agent.agent.online.is_set()
    await renewed.ws.close()
