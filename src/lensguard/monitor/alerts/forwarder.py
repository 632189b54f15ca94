"""The SIEM forwarder: durable queue in, ordered acknowledged batches out.

Delivery is at-least-once: a batch is removed from the queue only after the sink
returned, so a crash between send and acknowledgement resends it. Every message
carries its queue ``seq``; a receiver that drops items with ``seq`` not above the
last one it stored gets each event exactly once, in order (docs/alerts.md).

With an age limit on the queue, events that waited longer (the SIEM down for that
long) are removed before delivery, checked at most once a minute on the queue's
clock, and each removal is reported as ``siem.events_expired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from lensguard.logs import get_logger, mask_text
from lensguard.monitor.alerts.event import SecurityEvent
from lensguard.monitor.alerts.inbox import EventInbox
from lensguard.monitor.alerts.queue import DurableQueue, PutResult
from lensguard.monitor.alerts.sink import BatchSink, backoff_delay
from lensguard.monitor.events import emit
from lensguard.severity import Severity

_log = get_logger("lensguard.alerts")
QUEUE_FULL_EVENT = "siem.queue_full"
EXPIRED_EVENT = "siem.events_expired"
EXPIRE_CHECK_SECONDS = 60.0


class SiemForwarder:
    """Moves events from ``queue`` to ``sink`` in ``seq`` order, batch by batch."""

    def __init__(
        self,
        queue: DurableQueue,
        sink: BatchSink,
        *,
        batch_size: int = 100,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        inbox_size: int = 10_000,
        report_interval: float = 60.0,
    ) -> None:
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10000")
        self._queue = queue
        self._sink = sink
        self._batch_size = batch_size
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._inbox_size = inbox_size
        self._report_interval = report_interval
        self._inbox: EventInbox | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._unreported_drops = 0
        self._last_dropped_seq: int | None = None
        self._last_report: float | None = None
        self._last_expiry: float | None = None
        self.delivered = 0
        self.failures = 0
        self.dropped = 0
        self.expired = 0

    @property
    def sink(self) -> BatchSink:
        """Where batches go."""
        return self._sink

    async def start(self) -> None:
        """Start taking offered events and delivering whatever the queue holds."""
        self._inbox = EventInbox(self._inbox_size)
        self._tasks = [
            asyncio.create_task(self._intake(self._inbox), name="siem-intake"),
            asyncio.create_task(self._deliver(), name="siem-deliver"),
        ]

    async def stop(self, *, flush_timeout: float = 5.0) -> None:
        """Persist events still in the inbox, then stop; unsent events stay queued on disk."""
        if self._inbox is not None and self._tasks and not self._tasks[0].done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._inbox.join(), flush_timeout)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def offer(self, event: SecurityEvent) -> None:
        """Queue ``event`` for persisting without blocking (the log handler's callback)."""
        if self._inbox is None:
            self.dropped += 1
            return
        self._inbox.offer(event)

    async def enqueue(self, event: SecurityEvent) -> int:
        """Persist ``event`` (fsynced on return) and return its ``seq``."""
        result = await self._queue.put([event])
        self._after_put(result)
        return result.seqs[0]

    def stats(self) -> dict[str, int]:
        """Counters for health and metrics."""
        inbox_drops = self._inbox.dropped if self._inbox is not None else 0
        return {
            "delivered": self.delivered,
            "failures": self.failures,
            "dropped": self.dropped + inbox_drops,
            "expired": self.expired,
        }

    def _after_put(self, result: PutResult) -> None:
        self._wake.set()
        if result.dropped:
            self.dropped += result.dropped
            self._unreported_drops += result.dropped
            self._last_dropped_seq = result.last_dropped_seq
            self._report_drops(force=False)

    def _report_drops(self, *, force: bool) -> None:
        # Throttled: the report is itself a security event that lands in this full queue.
        now = time.monotonic()
        due = self._last_report is None or now - self._last_report >= self._report_interval
        if not self._unreported_drops or not (due or force):
            return
        emit(
            QUEUE_FULL_EVENT,
            severity=Severity.HIGH,
            dropped=self._unreported_drops,
            last_dropped_seq=self._last_dropped_seq,
            max_events=self._queue.max_events,
            policy="drop-oldest",
        )
        self._unreported_drops = 0
        self._last_report = now

    async def _expire_if_due(self) -> None:
        max_age = self._queue.max_age
        if max_age is None:
            return
        now = self._queue.clock.monotonic()
        if self._last_expiry is not None and now - self._last_expiry < EXPIRE_CHECK_SECONDS:
            return
        self._last_expiry = now
        result = await self._queue.expire()
        if result.expired:
            self.expired += result.expired
            emit(
                EXPIRED_EVENT,
                severity=Severity.HIGH,
                expired=result.expired,
                last_expired_seq=result.last_expired_seq,
                max_age_days=round(max_age / 86_400, 3),
            )

    async def _intake(self, inbox: EventInbox) -> None:
        while True:
            events = [await inbox.get()]
            while len(events) < 1_000 and (more := inbox.get_nowait()) is not None:
                events.append(more)
            try:
                self._after_put(await self._queue.put(events))
            except Exception as exc:  # a full disk must not end intake; count and go on
                self.dropped += len(events)
                _log.error("siem_queue_write_failed", lost=len(events), error=_describe(exc))
            finally:
                for _ in events:
                    inbox.task_done()

    async def _deliver(self) -> None:
        attempt = 0
        while True:
            self._wake.clear()  # before peeking, so an enqueue after the peek still wakes us
            try:
                await self._expire_if_due()
                batch = await self._queue.peek(self._batch_size)
                if not batch:
                    self._report_drops(force=True)
                    await self._wake.wait()
                    continue
                await self._sink.send_batch(batch)
                # The receiver has the batch; a crash before this ack resends it (same seqs).
                await self._queue.ack(batch[-1].seq)
            except Exception as exc:  # sink or disk: keep the batch, back off, retry
                attempt += 1
                self.failures += 1
                delay = backoff_delay(attempt, base=self._backoff, cap=self._max_backoff)
                _log.warning(
                    "siem_delivery_failed",
                    sink=self._sink.name,
                    attempt=attempt,
                    retry_in=round(delay, 3),
                    error=_describe(exc),
                )
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self.delivered += len(batch)


def _describe(exc: BaseException) -> Any:
    return mask_text(f"{type(exc).__name__}: {exc}")
