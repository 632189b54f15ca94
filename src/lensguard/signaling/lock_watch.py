"""Noticing that a control lock held on a node that died has ended.

A lock normally ends on its holder's node: released, the socket gone, or its idle
timer there running out, and that node announces it (``control_lock.py``). A node that
dies announces nothing. Its lease still ends by itself at its deadline
(``store/leases.py``), but without this its watchers elsewhere would go on showing the
dead driver until the next change of holder.

So each node follows the holders announced for devices its own sockets watch. While a
connection on another node holds one, it reads the lease every ``interval`` seconds of
the injected clock (renewals are silent, so it cannot know the deadline), and when it
finds the lease free and still no announcement one look later (a live holder's node
announces the end as it happens), it tells its own watchers ``expired``. Each node
tells only its own sockets. A watcher learns a dead node's lock ended within
``control.lock_idle_seconds`` plus two looks of the holder's last command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from lensguard.clock import Clock, Timer
from lensguard.logs import get_logger
from lensguard.signaling.control_lock import ControlLock, Holder
from lensguard.wire import server

log = get_logger("lensguard.signaling")


class _Followed:
    """A remote holder this node follows, and whether its lease was seen free once."""

    __slots__ = ("holder", "seen_free", "timer")

    def __init__(self, holder: Holder, timer: Timer) -> None:
        self.holder = holder
        self.timer = timer
        self.seen_free = False


class LockWatch:
    """The locks held from other nodes on devices watched here, looked at now and then."""

    def __init__(
        self,
        control: ControlLock,
        clock: Clock,
        *,
        local: Callable[[str], bool],
        watched: Callable[[str], bool],
        tell: Callable[[dict[str, Any]], Awaitable[None]],
        interval: float,
    ) -> None:
        self.control = control
        self.clock = clock
        self.local = local
        """Whether a connection id is a socket of this node."""
        self.watched = watched
        """Whether a socket of this node watches a device."""
        self.tell = tell
        """Hands a ``control_holder`` message to this node's watchers of its device."""
        self.interval = interval
        self._held: dict[str, _Followed] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def heard(self, message: dict[str, Any]) -> None:
        """A ``control_holder`` message (announced, or told to a new watcher here)."""
        device_id = message.get("device_id")
        holder = message.get("holder")
        if not isinstance(device_id, str):
            return
        self._forget(device_id)
        if not isinstance(holder, dict) or self.local(str(holder.get("connection"))):
            return  # free, or held here: the holder's own timers end it
        if self.watched(device_id):
            self._follow(device_id, {str(k): str(v) for k, v in holder.items()})

    def close(self) -> None:
        for device_id in list(self._held):
            self._forget(device_id)
        for task in list(self._tasks):
            task.cancel()

    async def settled(self) -> None:
        """Wait for the looks in flight to finish (their lease reads are real I/O)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def following(self) -> int:
        """How many remote holders this node is following now."""
        return len(self._held)

    def _follow(self, device_id: str, holder: Holder) -> None:
        self._held[device_id] = _Followed(holder, self._timer(device_id))

    def _timer(self, device_id: str) -> Timer:
        return self.clock.call_later(self.interval, lambda: self._spawn(device_id))

    def _forget(self, device_id: str) -> None:
        followed = self._held.pop(device_id, None)
        if followed is not None:
            followed.timer.cancel()

    def _spawn(self, device_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._look(device_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _look(self, device_id: str) -> None:
        followed = self._held.get(device_id)
        if followed is None:
            return
        if not self.watched(device_id):
            self._forget(device_id)  # nobody here to tell; a newcomer is told as it subscribes
            return
        try:
            current = await self.control.current(device_id)
        except Exception as exc:
            log.warning("control_lock_watch_failed", error=type(exc).__name__)
            current = followed.holder
        if self._held.get(device_id) is not followed:
            return  # news came while the lease was read: it is newer than what was read
        if current == followed.holder:
            followed.seen_free = False
            followed.timer = self._timer(device_id)
        elif current is not None:
            # Another holder with no announcement here (it was lost): say who it is.
            message = server.control_holder(device_id, current, "current")
            self.heard(message)
            await self.tell(message)
        elif not followed.seen_free:
            # Free: a live holder's node announces that at once, so wait one more look
            # before saying it here (no watcher hears the end twice).
            followed.seen_free = True
            followed.timer = self._timer(device_id)
        else:
            del self._held[device_id]
            await self.tell(server.control_holder(device_id, None, "expired"))
