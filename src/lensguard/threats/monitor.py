"""``ThreatMonitor``: the detectors on the live server.

It subscribes to the app's security-event publisher and takes one observation per
served HTTP request from ``RequestObserverMiddleware``. Both go through one bounded
queue to one task, so neither a request nor the publisher ever waits on a detector;
when the queue is full the observation is dropped and counted (``dropped``).

Where the windows live: security events go to the shared windows (Redis in cluster
mode, so an address spread over nodes adds up). Requests are far more frequent and are
counted in this node's memory: a flood aimed at one node is caught at once, and one
spread evenly over N nodes must reach the per-address threshold on one of them (a
documented limit, docs/threats.md). Sign-ins without a place get one from GeoIP when a
database is configured, for the impossible-travel rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from redis.asyncio import Redis

from lensguard.logs import get_logger
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.publisher import EventPublisher
from lensguard.threats.detection import DetectionPublisher
from lensguard.threats.engine import ThreatEngine, build_rules
from lensguard.threats.observation import Observation, from_event
from lensguard.threats.rules_auth import SIGNED_IN
from lensguard.threats.rules_traffic import REQUEST, RequestRate
from lensguard.threats.settings import ThreatSettings
from lensguard.threats.windows import MemoryWindows, RedisWindows, Windows

log = get_logger("lensguard.threats.monitor")
QUEUE_SIZE = 10_000
Locate = Callable[[str], Mapping[str, Any]]


class ThreatMonitor:
    """Feeds live events and requests to the engines on one background task."""

    def __init__(
        self,
        events: ThreatEngine,
        requests: ThreatEngine,
        *,
        locate: Locate | None = None,
        maxsize: int = QUEUE_SIZE,
    ) -> None:
        self.events = events
        self.requests = requests
        self._locate = locate
        self._maxsize = maxsize
        self._queue: asyncio.Queue[Observation] | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.dropped = 0

    @classmethod
    def build(
        cls,
        settings: ThreatSettings,
        *,
        redis: Redis | None,
        publisher: DetectionPublisher,
        locate: Locate | None = None,
    ) -> ThreatMonitor:
        """The monitor for ``settings``: shared windows in Redis when there is one."""
        detectors, responses = settings.detectors, settings.responses
        local = MemoryWindows(max_keys=detectors.max_keys)
        shared: Windows = local if redis is None else RedisWindows(redis)
        rules = build_rules(detectors)
        on_requests = [r for r in rules if isinstance(r, RequestRate)]
        on_events = [r for r in rules if not isinstance(r, RequestRate)]

        def engine(windows: Windows, chosen: list[Any]) -> ThreatEngine:
            return ThreatEngine(
                windows,
                detectors=detectors,
                responses=responses,
                rules=chosen,
                publisher=publisher,
            )

        return cls(engine(shared, on_events), engine(local, on_requests), locate=locate)

    def start(self, events: EventPublisher) -> None:
        """Subscribe to ``events`` and start judging (on the running loop)."""
        self._queue = asyncio.Queue(self._maxsize)
        self._task = asyncio.create_task(self._run(), name="threat monitor")
        self._unsubscribe = events.subscribe(self.offer_event, name="threats")

    async def stop(self) -> None:
        """Unsubscribe and stop; what is still queued is dropped (and counted)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._queue is not None:
            self.dropped += self._queue.qsize()
        self._queue = None

    def offer_event(self, event: SecurityEvent) -> None:
        """The publisher subscriber: queue the event's observation."""
        self._offer(from_event(event))

    def offer_request(self, *, address: str, at: float, method: str, route: str) -> None:
        """One served request (from the middleware)."""
        fields = {"method": method, "route": route}
        self._offer(Observation(uuid.uuid4().hex, REQUEST, at, address, None, None, fields))

    def _offer(self, observation: Observation) -> None:
        queue = self._queue
        if queue is None:
            self.dropped += 1
            return
        try:
            queue.put_nowait(observation)
        except asyncio.QueueFull:
            self.dropped += 1

    async def drained(self) -> None:
        """Wait until everything queued has been judged."""
        if self._queue is not None:
            await self._queue.join()

    def _placed(self, observation: Observation) -> Observation:
        if (
            self._locate is None
            or observation.type not in SIGNED_IN
            or observation.address is None
            or "country" in observation.fields
        ):
            return observation
        found = self._locate(observation.address)
        if not found:
            return observation
        fields = {**observation.fields, **found}
        return Observation(
            observation.id,
            observation.type,
            observation.at,
            observation.address,
            observation.account,
            observation.outcome,
            fields,
        )

    async def _run(self) -> None:
        queue = self._queue
        if queue is None:
            return
        while True:
            observation = await queue.get()
            try:
                engine = self.requests if observation.type == REQUEST else self.events
                await engine.observe(self._placed(observation))
            except Exception as exc:  # the windows' store failed; the engine isolates rules
                log.warning("threat_monitor_failed", error=type(exc).__name__)
            finally:
                queue.task_done()
