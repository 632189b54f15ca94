"""The control lock across two nodes sharing PostgreSQL and Redis, on one hand-turned clock.

The device publishes through node B; one operator drives through node A, the other
watches through node B and is refused until the idle lease ends; an admin on node B
takes over from the driver on node A.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lensguard.clock import ManualClock
from tests.harness.inprocess import InProcessServer, serve_in_process
from tests.harness.server import strong_secret
from tests.harness.world import Peer
from tests.signaling.control_support import (
    IO_WAIT,
    holder_news,
    move,
    publishing,
    stop,
    watching,
)

pytestmark = pytest.mark.slow
SECRET = strong_secret()
IDLE = 15


@contextlib.asynccontextmanager
async def node(
    make_settings: Any, pg_url: str, redis_url: str, var: Path, clock: ManualClock
) -> AsyncIterator[InProcessServer]:
    settings = make_settings(
        var_dir=str(var),
        secret_key=SECRET,
        database={"url": pg_url},
        redis={"url": redis_url},
        limits={"requests_per_minute": 100_000},
        control={"lock_idle_seconds": IDLE},
    )
    async with serve_in_process(settings, clock) as server:
        yield server


@contextlib.asynccontextmanager
async def two_nodes(
    make_settings: Any, pg_url: str, redis_url: str, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[tuple[InProcessServer, InProcessServer]]:
    """Nodes A and B on the same PostgreSQL, Redis and clock."""
    async with (
        node(make_settings, pg_url, redis_url, tmp_path / "a", clock) as a,
        node(make_settings, pg_url, redis_url, tmp_path / "b", clock) as b,
    ):
        yield a, b


async def test_one_driver_per_device_across_nodes(
    make_settings: Any,
    pg_url: str,
    redis_url: str,
    tmp_path: Path,
    manual_clock: ManualClock,
    peers: list[Peer],
) -> None:
    clock = manual_clock
    async with two_nodes(make_settings, pg_url, redis_url, tmp_path, clock) as (a, b):
        for name, role in [("root", "admin"), ("ann", "operator"), ("bob", "operator")]:
            await a.user(name, role)
        device_id, device = await publishing(b, peers)
        ann, _ = await watching(a, await a.login("ann"), device_id, peers)
        bob, _ = await watching(b, await b.login("bob"), device_id, peers)

        await ann.send(move(device_id, 1))
        assert (await device.recv("control", wait=IO_WAIT))["from"]["name"] == "ann"
        assert await holder_news(bob) == ("ann", "claimed")  # told on the other node
        assert await holder_news(ann) == ("ann", "claimed")
        await bob.send(move(device_id, 1))
        refused = await bob.recv("error", wait=IO_WAIT)
        assert (refused["code"], refused["holder"]["name"]) == ("locked", "ann")
        await bob.send(stop(device_id, 2))
        assert (await device.recv("control", wait=IO_WAIT))["from"]["name"] == "bob"

        # The lease is measured on the injected clock, whichever node reads it.
        await clock.advance(IDLE - 1)
        await bob.send(move(device_id, 3))
        assert (await bob.recv("error", wait=IO_WAIT))["code"] == "locked"
        await clock.advance(1)
        assert await holder_news(bob) == (None, "expired")
        assert await holder_news(ann) == (None, "expired")
        await bob.send(move(device_id, 4))
        assert (await device.recv("control", wait=IO_WAIT))["from"]["name"] == "bob"
        assert await holder_news(ann) == ("bob", "claimed")
        assert await holder_news(bob) == ("bob", "claimed")

        # An admin on node A takes over from the driver on node B.
        root, told = await watching(a, await a.login("root"), device_id, peers)
        assert told["holder"]["name"] == "bob"
        await root.send({"type": "control_take", "device_id": device_id})
        taken = await bob.recv("control_holder", wait=IO_WAIT)
        assert taken["reason"] == "taken" and taken["previous"]["connection"] == bob.id
        assert taken["holder"]["connection"] == root.id
        await bob.send(move(device_id, 5))
        assert (await bob.recv("error", wait=IO_WAIT))["code"] == "locked"

        # The holder leaving frees the lock for everyone, on every node.
        await root.ws.close()
        assert await holder_news(bob) == (None, "left")
        await bob.send(move(device_id, 6))
        assert await holder_news(bob) == ("bob", "claimed")


async def test_a_lock_held_on_a_dead_node_ends_for_watchers_elsewhere(
    make_settings: Any,
    pg_url: str,
    redis_url: str,
    tmp_path: Path,
    manual_clock: ManualClock,
    peers: list[Peer],
) -> None:
    """A holder whose node died: no node ends or announces its lock, but B's watchers
    are told ``expired`` once the lease in Redis runs out."""
    clock = manual_clock
    async with two_nodes(make_settings, pg_url, redis_url, tmp_path, clock) as (a, b):
        await a.user("bob", "operator")
        device_id, _ = await publishing(b, peers)
        bob, _ = await watching(b, await b.login("bob"), device_id, peers)
        ghost = {"kind": "user", "id": "u-gone", "name": "ann", "connection": "c-dead-node"}
        await a.services.hub.control.claim(device_id, ghost)  # as A did before it died
        assert await holder_news(bob) == ("ann", "claimed")

        _, told = await watching(b, await b.login("bob"), device_id, peers)
        assert told["holder"]["name"] == "ann"  # a newcomer is told the lease while it lives
        # Turned a look at a time: each reads Redis (real I/O) and arms the next look
        # when the reply is in, so the clock must wait for it between turns.
        watch = b.services.hub.lock_watch
        for _ in range(6):
            await clock.advance(IDLE / 3)
            await watch.settled()
        assert await holder_news(bob) == (None, "expired")
        await bob.send(move(device_id, 1))
        assert await holder_news(bob) == ("bob", "claimed")


async def test_the_camera_pose_is_shared_by_every_node(
    make_settings: Any,
    pg_url: str,
    redis_url: str,
    tmp_path: Path,
    manual_clock: ManualClock,
    peers: list[Peer],
) -> None:
    async with two_nodes(make_settings, pg_url, redis_url, tmp_path, manual_clock) as (a, b):
        await a.user("root", "admin")
        device_id, device = await publishing(b, peers)
        root, _ = await watching(a, await a.login("root"), device_id, peers)
        await root.send(
            {
                "type": "control",
                "device_id": device_id,
                "command": "ptz",
                "args": {"pan": 0.5, "zoom": 0.25},
                "seq": 1,
            }
        )
        assert (await device.recv("control", wait=IO_WAIT))["args"]["pan"] == 0.5
        assert (await root.recv("camera_pose", wait=IO_WAIT))["reason"] == "moved"
        late, _ = await watching(b, await b.login("root"), device_id, peers)
        told = await late.recv("camera_pose", wait=IO_WAIT)  # read from Redis on node B
        assert (told["pan"], told["tilt"], told["zoom"], told["reason"]) == (
            0.5,
            0.0,
            0.25,
            "current",
        )
