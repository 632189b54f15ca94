"""``EventPublisher``: the one fan-out of security events to their subscribers.

The service container owns one publisher per app. Delivery is synchronous and
never blocks the publishing code by design: a subscriber is a plain function that
must return at once (write a log line, bump a counter, offer to a bounded inbox).
Subscribers that do I/O wrap their work in ``Queued``, which hands events to a task
through a bounded queue. A subscriber that raises loses that one event, is counted
in ``failures`` and logged; the other subscribers and the publishing request carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lensguard.logs import get_logger
from lensguard.monitor.event import SecurityEvent

Subscriber = Callable[[SecurityEvent], None]

# A plain logger, not the security one: a broken subscriber's report must not
# itself become a security event that breaks it again.
log = get_logger("lensguard.monitor.publisher")


def _wall_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Subscription:
    name: str
    handler: Subscriber


class EventPublisher:
    """Hands each published event to every subscriber, in subscription order."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.now: Callable[[], datetime] = now or _wall_now
        """When events published here happen (the app's clock; ``emit`` stamps with it)."""
        self._subscriptions: tuple[_Subscription, ...] = ()
        self.failures: Counter[str] = Counter()
        """Events lost per subscriber name because its handler raised."""

    def subscribe(self, handler: Subscriber, *, name: str | None = None) -> Callable[[], None]:
        """Add ``handler``; returns the function that removes it again."""
        label = name or str(getattr(handler, "__qualname__", None) or repr(handler))
        subscription = _Subscription(label, handler)
        # Replaced, never mutated: a publish running on another thread sees one whole list.
        self._subscriptions = (*self._subscriptions, subscription)

        def unsubscribe() -> None:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

        return unsubscribe

    @property
    def subscribers(self) -> list[str]:
        """The names of the current subscribers, in delivery order."""
        return [s.name for s in self._subscriptions]

    def publish(self, event: SecurityEvent) -> None:
        """Deliver ``event`` to every subscriber; never raises, never waits."""
        for subscription in self._subscriptions:
            try:
                subscription.handler(event)
            except Exception as exc:
                self.failures[subscription.name] += 1
                log.warning(
                    "event_subscriber_failed",
                    subscriber=subscription.name,
                    event_type=event.type,
                    error=type(exc).__name__,
                )


class Queued:
    """A subscriber that runs an async handler on its own task, behind a bounded queue.

    ``offer`` (the subscriber function) may be called from any thread and returns at
    once. When the queue is full the new event is dropped and counted in ``dropped``;
    when the handler raises, that event is counted in ``failed``. Either way the
    handler keeps receiving later events, in publish order.
    """

    def __init__(
        self, handler: Callable[[SecurityEvent], Awaitable[None]], *, maxsize: int
    ) -> None:
        if maxsize < 1:
            raise ValueError("a queued subscriber needs room for at least one event")
        self._handler = handler
        self._maxsize = maxsize
        self._queue: asyncio.Queue[SecurityEvent] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.failed = 0

    def start(self) -> None:
        """Bind to the running loop and start delivering."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(self._maxsize)
        self._task = asyncio.create_task(self._run(), name="queued event subscriber")

    async def stop(self) -> None:
        """Stop delivering; events still queued are dropped (and counted)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._queue is not None:
            self.dropped += self._queue.qsize()
        self._queue = None

    def offer(self, event: SecurityEvent) -> None:
        """The subscriber function: queue ``event`` if there is room."""
        loop = self._loop
        if loop is None or self._queue is None:
            self.dropped += 1
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._put(event)
            return
        try:
            loop.call_soon_threadsafe(self._put, event)
        except RuntimeError:  # the loop is closed: nobody will read it
            self.dropped += 1

    __call__ = offer

    def _put(self, event: SecurityEvent) -> None:
        if self._queue is None:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def drained(self) -> None:
        """Wait until every queued event has been handled."""
        if self._queue is not None:
            await self._queue.join()

    async def _run(self) -> None:
        queue = self._queue
        if queue is None:
            return
        while True:
            event = await queue.get()
            try:
                await self._handler(event)
            except Exception as exc:
                self.failed += 1
                log.warning(
                    "queued_subscriber_failed", event_type=event.type, error=type(exc).__name__
                )
            finally:
                queue.task_done()
