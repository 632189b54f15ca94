"""Drive gestures: one connection's repeated identical commands, one audit row each.

Holding a drive button repeats the same ``move`` every 200 ms. Commands with the same
command and arguments from one connection to one device, each less than ``gap``
seconds (on the injected clock) after the one before, form one gesture; it is
written as one ``control.command`` row (``count``, ``first_seq``, ``last_seq``,
``duration_ms``) when it ends: a different command, the gap passing, a stop, the
lock released, or the connection closing. ``close`` writes whatever is still open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from lensguard.clock import Clock, Timer


@dataclass
class Gesture:
    """Identical commands in a row: what one audit row says."""

    device_id: str
    command: str
    args: dict[str, Any]
    first_seq: int
    started: float
    """Monotonic seconds of the first command."""
    last_seq: int = 0
    last: float = 0.0
    count: int = 0

    def add(self, seq: int, at: float) -> None:
        self.count += 1
        self.last_seq = seq
        self.last = at

    def details(self) -> dict[str, Any]:
        """The audit row's details."""
        return {
            "command": self.command,
            "args": self.args,
            "count": self.count,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "duration_ms": round((self.last - self.started) * 1000),
        }


Write = Callable[[Gesture], Coroutine[Any, Any, None]]


@dataclass
class GestureAudit:
    """One connection's open gestures (one per device) and the timers that end them."""

    clock: Clock
    gap: float
    write: Write
    """Puts one gesture on the audit trail (must not raise)."""
    open: dict[str, Gesture] = field(default_factory=dict)
    _timers: dict[str, Timer] = field(default_factory=dict)
    _writing: set[asyncio.Task[None]] = field(default_factory=set)

    async def command(self, device_id: str, command: str, args: dict[str, Any], seq: int) -> None:
        """Count one accepted command, ending the device's open gesture if this differs."""
        now = self.clock.monotonic()
        gesture = self.open.get(device_id)
        if gesture is not None and not (
            gesture.command == command and gesture.args == args and now - gesture.last < self.gap
        ):
            await self.end(device_id)
            gesture = None
        if gesture is None:
            gesture = Gesture(device_id, command, args, first_seq=seq, started=now)
            self.open[device_id] = gesture
        gesture.add(seq, now)
        self._arm(gesture)

    async def end(self, device_id: str) -> None:
        """Write the device's open gesture now, if there is one."""
        gesture = self._take(device_id)
        if gesture is not None:
            await self.write(gesture)

    async def close(self) -> None:
        """Write every open gesture and wait for those already being written."""
        for device_id in list(self.open):
            await self.end(device_id)
        if self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)

    def _take(self, device_id: str) -> Gesture | None:
        timer = self._timers.pop(device_id, None)
        if timer is not None:
            timer.cancel()
        return self.open.pop(device_id, None)

    def _arm(self, gesture: Gesture) -> None:
        timer = self._timers.pop(gesture.device_id, None)
        if timer is not None:
            timer.cancel()
        self._timers[gesture.device_id] = self.clock.call_later(
            self.gap, lambda: self._gap_passed(gesture)
        )

    def _gap_passed(self, gesture: Gesture) -> None:
        if self.open.get(gesture.device_id) is not gesture:
            return
        self._take(gesture.device_id)
        task = asyncio.get_running_loop().create_task(self.write(gesture))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
