"""Drive gestures: a held key's repeated commands are one audit row, written when it ends.

On a hand-turned clock: commands 200 ms apart are one gesture, the 1 s gap ends it;
a different command ends it at once, a stop is audited at once, and a gesture still
open when the socket closes is written all the same.
"""

from __future__ import annotations

from typing import Any

import pytest

from lensguard.clock import ManualClock
from tests.harness.inprocess import serve_in_process
from tests.harness.world import Peer
from tests.signaling.control_support import (
    IO_WAIT,
    audit_rows,
    move,
    publishing,
    stop,
    until,
    watching,
)

pytestmark = pytest.mark.slow


async def drive(clock: ManualClock, operator: Peer, device: Peer, messages: list[Any]) -> None:
    """Send each command 200 ms after the one before, once the device has the last."""
    for message in messages:
        await operator.send(message)
        await device.recv("control", wait=IO_WAIT)
        await clock.advance(0.2)


def commands(rows: list[dict[str, Any]]) -> list[tuple[str, int, int, int, int]]:
    """(command, count, first_seq, last_seq, duration_ms) of each row."""
    return [
        (
            r["details"]["command"],
            r["details"]["count"],
            r["details"]["first_seq"],
            r["details"]["last_seq"],
            r["details"]["duration_ms"],
        )
        for r in rows
    ]


async def test_a_held_key_is_one_row_a_change_starts_another_stop_is_at_once(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, peers: list[Peer]
) -> None:
    clock = manual_clock
    settings = make_settings(database={"url": sqlite_url}, limits={"requests_per_minute": 100_000})
    async with serve_in_process(settings, clock) as server:
        await server.user("root", "admin")
        await server.user("ann", "operator")
        admin = await server.login("root")
        device_id, device = await publishing(server, peers)
        ann, _ = await watching(server, await server.login("ann"), device_id, peers)

        async def rows(count: int) -> list[dict[str, Any]]:
            async def landed() -> bool:
                found = await audit_rows(server, admin, device_id, "control.command")
                return len(found) >= count

            await until(landed, f"{count} control.command rows")
            return await audit_rows(server, admin, device_id, "control.command")

        await drive(clock, ann, device, [move(device_id, seq) for seq in range(1, 6)])
        assert await audit_rows(server, admin, device_id, "control.command") == []
        await clock.advance(0.8)  # a second after the last command: the gesture ended
        assert commands(await rows(1)) == [("move", 5, 1, 5, 800)]

        await drive(clock, ann, device, [move(device_id, 6), move(device_id, 7)])
        await drive(clock, ann, device, [move(device_id, 8, linear=-0.5)])  # another key
        assert commands(await rows(2))[1] == ("move", 2, 6, 7, 200)
        await ann.send(stop(device_id, 9))
        await device.recv("control", wait=IO_WAIT)
        found = commands(await rows(4))
        assert found[2:] == [("move", 1, 8, 8, 0), ("stop", 1, 9, 9, 0)]
        (first, *_) = await rows(4)
        assert first["actor_name"] == "ann" and first["details"]["args"]["linear"] == 0.5

        # Still held when the socket closes: written as the connection ends.
        await drive(clock, ann, device, [move(device_id, seq) for seq in range(10, 13)])
        await ann.ws.close()
        assert commands(await rows(5))[4] == ("move", 3, 10, 12, 400)
