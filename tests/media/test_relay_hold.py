"""A relay held by a recorder outlives its viewers; released, it closes after the grace."""

from __future__ import annotations

from lensguard.bus.memory import MemoryBus
from lensguard.clock import ManualClock
from lensguard.media.relay import IDLE_GRACE, DeviceRelay, ViewerEndpoint


async def noop(_: str) -> None:
    return None


async def test_viewers_leaving_never_close_a_held_relay(manual_clock: ManualClock) -> None:
    closed: list[DeviceRelay] = []
    relay = DeviceRelay(MemoryBus(), "d1", lambda _: None, clock=manual_clock)
    relay.on_close.append(closed.append)
    recorder = object()
    relay.hold(recorder)
    viewer = ViewerEndpoint(relay, "viewer-conn", noop)
    relay.viewers[viewer.inbox.id] = viewer
    await relay.remove_viewer(viewer)  # the last viewer leaves...
    await manual_clock.advance(IDLE_GRACE * 5)
    assert not relay.closed and relay.held  # ...and the recording's relay stays

    relay.release(object())  # not a holder: changes nothing
    relay.release(recorder)
    await manual_clock.advance(IDLE_GRACE - 1)
    assert not relay.closed
    await manual_clock.advance(1)
    assert relay.closed and closed == [relay]  # told once, when it closed


async def test_a_hold_during_the_grace_keeps_the_relay(manual_clock: ManualClock) -> None:
    relay = DeviceRelay(MemoryBus(), "d1", lambda _: None, clock=manual_clock)
    viewer = ViewerEndpoint(relay, "viewer-conn", noop)
    relay.viewers[viewer.inbox.id] = viewer
    await relay.remove_viewer(viewer)
    await manual_clock.advance(IDLE_GRACE / 2)
    relay.hold("recorder")  # recording starts while the idle close is pending
    await manual_clock.advance(IDLE_GRACE * 2)
    assert not relay.closed
    await relay.close()
