"""Watchers learn that a lock held on a node that died has ended (signaling/lock_watch.py).

The lock and its leases are the embedded ones on a hand-turned clock; the "dead node"
is a holder whose connection is on no node, so nothing there ends or announces it.
"""

from __future__ import annotations

from typing import Any

from lensguard.bus.memory import MemoryBus
from lensguard.clock import ManualClock
from lensguard.signaling.control_lock import ControlLock, Holder
from lensguard.signaling.lock_watch import LockWatch
from lensguard.store.leases import MemoryLeases
from lensguard.wire import server

IDLE = 15.0
GHOST: Holder = {"kind": "user", "id": "u-1", "name": "ann", "connection": "c-on-dead-node"}
HERE: Holder = {"kind": "user", "id": "u-2", "name": "bob", "connection": "c-here"}


class Node:
    """One node's view: which connections are its own, which devices it watches."""

    def __init__(self, clock: ManualClock) -> None:
        self.lock = ControlLock(MemoryLeases(clock=clock.time), MemoryBus(), idle=IDLE)
        self.watched = {"dev-1"}
        self.told: list[dict[str, Any]] = []
        self.watch = LockWatch(
            self.lock,
            clock,
            local=lambda connection: connection == HERE["connection"],
            watched=lambda device_id: device_id in self.watched,
            tell=self._tell,
            interval=IDLE / 3,
        )

    async def _tell(self, message: dict[str, Any]) -> None:
        self.told.append(message)

    async def claimed(self, holder: Holder, device_id: str = "dev-1") -> None:
        await self.lock.claim(device_id, holder)
        self.watch.heard(server.control_holder(device_id, holder, "claimed"))


async def test_a_dead_nodes_lock_is_announced_expired_once_its_lease_ends() -> None:
    clock = ManualClock()
    node = Node(clock)
    await node.claimed(GHOST)
    assert node.watch.following == 1

    await clock.advance(IDLE - 1)
    assert node.told == []  # looked at twice, still held
    assert await node.lock.renew("dev-1", GHOST)  # a live holder renews silently
    await clock.advance(IDLE - 1)
    assert node.told == []

    await clock.advance(2)  # at 30 s: the first look past the deadline (29 s) finds it free
    assert node.told == []
    await clock.advance(IDLE / 3)  # and still free, unannounced, at the next
    assert node.told == [server.control_holder("dev-1", None, "expired")]
    assert node.watch.following == 0
    await clock.advance(IDLE * 4)
    assert len(node.told) == 1  # said once


async def test_locks_held_here_or_ended_by_announcement_are_not_followed() -> None:
    clock = ManualClock()
    node = Node(clock)
    await node.claimed(HERE)  # this node's own timers end it
    assert node.watch.following == 0

    await node.claimed(GHOST, "dev-2")  # nobody here watches dev-2
    assert node.watch.following == 0

    await node.lock.release("dev-1", HERE, "released")
    await node.claimed(GHOST)
    node.watch.heard(server.control_holder("dev-1", None, "left"))
    assert node.watch.following == 0
    await clock.advance(IDLE * 3)
    assert node.told == []


async def test_a_holder_changed_without_an_announcement_is_said_and_followed() -> None:
    clock = ManualClock()
    node = Node(clock)
    await node.claimed(GHOST)
    other = GHOST | {"name": "cy", "connection": "c-elsewhere"}
    await node.lock.take("dev-1", other)  # its announcement never reached this node

    await clock.advance(IDLE / 3)
    assert node.told == [server.control_holder("dev-1", other, "current")]
    assert node.watch.following == 1
    await clock.advance(IDLE * 2)
    assert node.told[-1] == server.control_holder("dev-1", None, "expired")


async def test_an_end_announced_by_a_live_holders_node_is_not_said_again() -> None:
    clock = ManualClock()
    node = Node(clock)
    await node.claimed(GHOST)
    await clock.advance(IDLE)  # the first look that finds the lease free
    node.watch.heard(server.control_holder("dev-1", None, "expired"))  # from its node
    await clock.advance(IDLE * 2)
    assert node.told == []


async def test_a_device_no_longer_watched_here_is_dropped() -> None:
    clock = ManualClock()
    node = Node(clock)
    await node.claimed(GHOST)
    node.watched.clear()
    await clock.advance(IDLE * 2)
    assert node.told == []
    assert node.watch.following == 0
