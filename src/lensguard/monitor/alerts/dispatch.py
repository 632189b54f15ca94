"""Live alerts: events at or above the threshold go to every sink, each on its own worker.

One worker and one bounded inbox per sink, so a sink that is slow, retrying or down
delays only its own alerts; the others keep sending.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from lensguard.logs import get_logger, mask_text
from lensguard.monitor.alerts.event import SecurityEvent, at_least
from lensguard.monitor.alerts.inbox import EventInbox
from lensguard.monitor.alerts.sink import AlertSink
from lensguard.severity import Severity

_log = get_logger("lensguard.alerts")


@dataclass
class SinkStats:
    """Per-sink counters: sent, failed (after the sink's own retries) and dropped (inbox full)."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0


@dataclass
class _Worker:
    sink: AlertSink
    inbox: EventInbox
    stats: SinkStats = field(default_factory=SinkStats)
    task: asyncio.Task[None] | None = None


class AlertDispatcher:
    """Fans security events at or above ``threshold`` out to ``sinks``."""

    def __init__(
        self, sinks: Sequence[AlertSink], *, threshold: Severity, inbox_size: int = 1_000
    ) -> None:
        self._sinks = list(sinks)
        self.threshold = threshold
        self._inbox_size = inbox_size
        self._workers: list[_Worker] = []

    async def start(self) -> None:
        """Start one worker per sink."""
        self._workers = [_Worker(sink, EventInbox(self._inbox_size)) for sink in self._sinks]
        for worker in self._workers:
            worker.task = asyncio.create_task(self._run(worker), name=f"alerts {worker.sink.name}")

    async def stop(self, *, drain_timeout: float = 5.0) -> None:
        """Give queued alerts ``drain_timeout`` seconds to go out, then stop every worker."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), drain_timeout)
        for worker in self._workers:
            if worker.task is not None:
                worker.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.task
                worker.task = None

    def offer(self, event: SecurityEvent) -> None:
        """Queue ``event`` for every sink if it is severe enough; never blocks or raises."""
        if not at_least(event.severity, self.threshold):
            return
        for worker in self._workers:
            worker.inbox.offer(event)

    async def drain(self) -> None:
        """Wait until every queued alert has been sent or has failed."""
        await asyncio.gather(*(worker.inbox.join() for worker in self._workers))

    def stats(self) -> dict[str, SinkStats]:
        """Counters by sink name."""
        for worker in self._workers:
            worker.stats.dropped = worker.inbox.dropped
        return {worker.sink.name: worker.stats for worker in self._workers}

    async def _run(self, worker: _Worker) -> None:
        while True:
            event = await worker.inbox.get()
            try:
                await worker.sink.send(event)
                worker.stats.sent += 1
            except Exception as exc:  # one broken sink must never stop the others
                worker.stats.failed += 1
                _log.warning(
                    "alert_delivery_failed",
                    sink=worker.sink.name,
                    alert=event.name,
                    alert_id=event.id,
                    error=mask_text(f"{type(exc).__name__}: {exc}"),
                )
            finally:
                worker.inbox.task_done()
