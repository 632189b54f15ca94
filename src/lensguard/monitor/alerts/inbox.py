"""A bounded event queue that any thread may offer to without ever blocking."""

from __future__ import annotations

import asyncio

from lensguard.monitor.alerts.event import SecurityEvent


class EventInbox:
    """Bounded asyncio queue bound to the running loop; a full inbox drops and counts.

    Logging calls happen on any thread (uvicorn workers, ``asyncio.to_thread``), so
    ``offer`` hops onto the owning loop with ``call_soon_threadsafe`` rather than
    touching the queue from a foreign thread.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("an inbox needs room for at least one event")
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[SecurityEvent] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: SecurityEvent) -> None:
        """Queue ``event`` if there is room; never blocks, never raises."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._put(event)
            return
        try:
            self._loop.call_soon_threadsafe(self._put, event)
        except RuntimeError:  # the loop is closed: shutting down, nobody will read it
            self.dropped += 1

    def _put(self, event: SecurityEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def get(self) -> SecurityEvent:
        """The next event, waiting for one."""
        return await self._queue.get()

    def get_nowait(self) -> SecurityEvent | None:
        """The next event, or None when the inbox is empty."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def task_done(self) -> None:
        """Mark one event taken with ``get`` as fully handled (for ``join``)."""
        self._queue.task_done()

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        await self._queue.join()

    def qsize(self) -> int:
        """How many events wait."""
        return self._queue.qsize()
