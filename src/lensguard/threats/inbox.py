"""``Inbox``: a bounded queue drained by one task, for work that must never block its source.

``offer`` returns at once (a full inbox drops the item and counts it in ``dropped``);
the task hands each item to ``handler`` in order; an item whose handler raises is
counted in ``failed`` and logged, and the task goes on. ``stop`` ends the task even if
a client library swallowed the cancellation mid-call (some Redis client versions do):
the loop also checks a closing flag before waiting for the next item.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from lensguard.logs import get_logger

log = get_logger("lensguard.threats.inbox")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
STOP_WAIT_SECONDS = 5.0


class Source(Protocol[T_co]):
    """A publisher an inbox can subscribe to (``DetectionPublisher`` and the like)."""

    def subscribe(self, handler: Callable[[T_co], None], *, name: str) -> Callable[[], None]: ...


class Inbox(Generic[T]):
    """Items offered from anywhere on the loop, handled one at a time by one task."""

    def __init__(self, handler: Callable[[T], Awaitable[object]], *, name: str, maxsize: int):
        if maxsize < 1:
            raise ValueError("an inbox needs room for at least one item")
        self._handler = handler
        self._name = name
        self._maxsize = maxsize
        self._queue: asyncio.Queue[T] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._unsubscribe: Callable[[], None] | None = None
        self.dropped = 0
        self.failed = 0

    @property
    def running(self) -> bool:
        return self._queue is not None

    def start(self) -> None:
        """Start the task on the running loop."""
        self._closing = False
        self._queue = asyncio.Queue(self._maxsize)
        self._task = asyncio.create_task(self._run(), name=self._name)

    def attach(self, source: Source[T]) -> None:
        """Start, and take every item ``source`` publishes (``stop`` unsubscribes)."""
        self.start()
        self._unsubscribe = source.subscribe(self.offer, name=self._name)

    async def stop(self) -> None:
        """Unsubscribe, end the task; items still queued are dropped (and counted)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._closing = True
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task}, timeout=STOP_WAIT_SECONDS)
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # retrieved: nothing left to log at shutdown
        if self._queue is not None:
            self.dropped += self._queue.qsize()
        self._queue = None

    def offer(self, item: T) -> None:
        """Queue ``item`` if there is room; never waits."""
        queue = self._queue
        if queue is None or self._closing:
            self.dropped += 1
            return
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    async def drained(self) -> None:
        """Wait until every queued item has been handled."""
        if self._queue is not None:
            await self._queue.join()

    async def _run(self) -> None:
        queue = self._queue
        if queue is None:
            return
        while not self._closing:
            item = await queue.get()
            try:
                await self._handler(item)
            except Exception as exc:
                self.failed += 1
                log.warning("inbox_item_failed", inbox=self._name, error=type(exc).__name__)
            finally:
                queue.task_done()
