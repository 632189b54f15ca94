"""The control lock on one node: one driver per device, stop always passes, take-over.

The server runs in the test's loop on a hand-turned clock, so the idle lease ends
when the test turns the clock past it, not after real seconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lensguard.clock import ManualClock
from tests.harness.inprocess import InProcessServer, serve_in_process
from tests.harness.world import Peer
from tests.signaling.control_support import (
    IO_WAIT,
    audit_rows,
    holder_news,
    move,
    publishing,
    stop,
    until,
    watching,
)

pytestmark = pytest.mark.slow
IDLE = 15


@contextlib.asynccontextmanager
async def node(
    make_settings: Any, sqlite_url: str, clock: ManualClock
) -> AsyncIterator[InProcessServer]:
    settings = make_settings(
        database={"url": sqlite_url},
        limits={"requests_per_minute": 100_000},
        control={"lock_idle_seconds": IDLE, "gesture_gap_seconds": 1.0},
    )
    async with serve_in_process(settings, clock) as server:
        for name, role in [("root", "admin"), ("ann", "operator"), ("bob", "operator")]:
            await server.user(name, role)
        await server.user("vic", "viewer")
        yield server


async def test_one_operator_drives_the_other_is_refused_but_may_always_stop(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, peers: list[Peer]
) -> None:
    async with node(make_settings, sqlite_url, manual_clock) as server:
        device_id, device = await publishing(server, peers)
        ann, told = await watching(server, await server.login("ann"), device_id, peers)
        assert told["holder"] is None
        bob, _ = await watching(server, await server.login("bob"), device_id, peers)

        await ann.send(move(device_id, 1))
        assert (await device.recv("control", wait=IO_WAIT))["from"]["name"] == "ann"
        assert await holder_news(ann) == ("ann", "claimed")
        news = await bob.recv("control_holder", wait=IO_WAIT)
        assert news["holder"]["name"] == "ann" and news["holder"]["connection"] == ann.id

        await bob.send(move(device_id, 1, linear=-0.5))
        refused = await bob.recv("error", wait=IO_WAIT)
        assert refused["code"] == "locked"
        assert refused["message"] == "ann is driving this device"
        assert refused["holder"]["name"] == "ann"
        await bob.send({**move(device_id, 2), "command": "ptz"})
        assert (await bob.recv("error", wait=IO_WAIT))["code"] == "forbidden"  # no camera_control

        # Safety first: anyone allowed to drive may stop the robot, lock or not.
        await bob.send(stop(device_id, 3))
        stopped = await device.recv("control", wait=IO_WAIT)
        assert (stopped["command"], stopped["from"]["name"]) == ("stop", "bob")
        await ann.send(move(device_id, 2))
        assert (await device.recv("control", wait=IO_WAIT))["from"]["name"] == "ann"

        # A newcomer is told who drives as it subscribes.
        _, told = await watching(server, await server.login("vic"), device_id, peers)
        assert told["holder"]["name"] == "ann"


async def test_release_and_disconnect_free_the_lock(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, peers: list[Peer]
) -> None:
    async with node(make_settings, sqlite_url, manual_clock) as server:
        device_id, device = await publishing(server, peers)
        ann, _ = await watching(server, await server.login("ann"), device_id, peers)
        bob, _ = await watching(server, await server.login("bob"), device_id, peers)

        await ann.send(move(device_id, 1))
        assert await holder_news(bob) == ("ann", "claimed")
        assert await holder_news(ann) == ("ann", "claimed")
        await bob.send({"type": "control_release", "device_id": device_id})  # not bob's
        await ann.send({"type": "control_release", "device_id": device_id})
        assert await holder_news(bob) == (None, "released")
        assert await holder_news(ann) == (None, "released")

        await bob.send(move(device_id, 1))
        assert await holder_news(ann) == ("bob", "claimed")
        await bob.ws.close()
        assert await holder_news(ann) == (None, "left")
        await ann.send(move(device_id, 5))
        assert await holder_news(ann) == ("ann", "claimed")
        controls = [await device.recv("control", wait=IO_WAIT) for _ in range(3)]
        assert [c["from"]["name"] for c in controls] == ["ann", "bob", "ann"]


async def test_an_idle_lock_ends_after_its_lease_and_each_command_renews_it(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, peers: list[Peer]
) -> None:
    clock = manual_clock
    async with node(make_settings, sqlite_url, clock) as server:
        device_id, _ = await publishing(server, peers)
        ann, _ = await watching(server, await server.login("ann"), device_id, peers)
        bob, _ = await watching(server, await server.login("bob"), device_id, peers)

        await ann.send(move(device_id, 1))
        assert await holder_news(bob) == ("ann", "claimed")
        assert await holder_news(ann) == ("ann", "claimed")
        await clock.advance(10)
        await ann.send(move(device_id, 2))  # renews: the lease now ends at 25 s
        await clock.advance(14)
        await bob.send(move(device_id, 1))
        assert (await bob.recv("error", wait=IO_WAIT))["code"] == "locked"
        await clock.advance(1)
        assert await holder_news(bob) == (None, "expired")
        assert await holder_news(ann) == (None, "expired")
        await bob.send(move(device_id, 2))
        assert await holder_news(ann) == ("bob", "claimed")


async def test_an_admin_takes_over_audited_an_operator_may_not(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, peers: list[Peer]
) -> None:
    async with node(make_settings, sqlite_url, manual_clock) as server:
        admin = await server.login("root")
        device_id, device = await publishing(server, peers)
        ann, _ = await watching(server, await server.login("ann"), device_id, peers)
        bob, _ = await watching(server, await server.login("bob"), device_id, peers)
        root, _ = await watching(server, admin, device_id, peers)

        await ann.send(move(device_id, 1))
        await device.recv("control", wait=IO_WAIT)
        assert await holder_news(root) == ("ann", "claimed")
        assert await holder_news(ann) == ("ann", "claimed")

        await bob.send({"type": "control_take", "device_id": device_id})
        refused = await bob.recv("error", wait=IO_WAIT)
        assert refused["code"] == "forbidden" and "control_override" in refused["message"]

        await root.send({"type": "control_take", "device_id": device_id})
        taken = await ann.recv("control_holder", wait=IO_WAIT)
        assert taken["reason"] == "taken"
        assert taken["holder"]["name"] == server.services.hub.sessions[root.id].require().name
        assert taken["previous"]["connection"] == ann.id
        # The new driver starts from a standing robot.
        stopped = await device.recv("control", wait=IO_WAIT)
        assert stopped["command"] == "stop" and stopped["from"]["connection"] == root.id

        await ann.send(move(device_id, 2))
        assert (await ann.recv("error", wait=IO_WAIT))["code"] == "locked"
        await root.send(move(device_id, 1))
        assert (await device.recv("control", wait=IO_WAIT))["from"]["connection"] == root.id

        async def audited() -> bool:
            rows = await audit_rows(server, admin, device_id, "control.take")
            return {r["outcome"] for r in rows} == {"success", "denied"}

        await until(audited, "the take-over and the refusal on the audit trail")
        rows = await audit_rows(server, admin, device_id, "control.take")
        (taken,) = [r for r in rows if r["outcome"] == "success"]
        assert taken["actor_name"] == "root"
        assert taken["details"]["taken_from"]["name"] == "ann"
        (denied,) = [r for r in rows if r["outcome"] == "denied"]
        assert denied["actor_name"] == "bob"
