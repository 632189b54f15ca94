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

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.publisher import EventPublisher
from lensguard.threats.detection import DetectionPublisher
from lensguard.threats.engine import ThreatEngine, build_rules
from lensguard.threats.inbox import Inbox
from lensguard.threats.model import AnomalyModel
from lensguard.threats.observation import Observation, from_event
from lensguard.threats.rules_auth import SIGNED_IN
from lensguard.threats.rules_model import Anomaly
from lensguard.threats.rules_traffic import REQUEST, RequestRate
from lensguard.threats.settings import ThreatSettings
from lensguard.threats.windows import MemoryWindows, RedisWindows, Windows

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
        self._inbox: Inbox[Observation] = Inbox(self._judge, name="threat monitor", maxsize=maxsize)
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def dropped(self) -> int:
        """Observations lost because the queue was full (or the monitor not running)."""
        return self._inbox.dropped

    @classmethod
    def build(
        cls,
        settings: ThreatSettings,
        *,
        redis: Redis | None,
        publisher: DetectionPublisher,
        locate: Locate | None = None,
        model: AnomalyModel | None = None,
    ) -> ThreatMonitor:
        """The monitor for ``settings``: shared windows in Redis when there is one, and the
        anomaly rule over security events when a trained ``model`` is given."""
        detectors, responses = settings.detectors, settings.responses
        local = MemoryWindows(max_keys=detectors.max_keys)
        shared: Windows = local if redis is None else RedisWindows(redis)
        rules = build_rules(detectors)
        on_requests = [r for r in rules if isinstance(r, RequestRate)]
        on_events: list[Any] = [r for r in rules if not isinstance(r, RequestRate)]
        if model is not None:
            on_events.append(Anomaly(model, threshold=settings.model.threshold))

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
        self._inbox.start()
        self._unsubscribe = events.subscribe(self.offer_event, name="threats")

    async def stop(self) -> None:
        """Unsubscribe and stop; what is still queued is dropped (and counted)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._inbox.stop()

    def offer_event(self, event: SecurityEvent) -> None:
        """The publisher subscriber: queue the event's observation."""
        self._inbox.offer(from_event(event))

    def offer_request(self, *, address: str, at: float, method: str, route: str) -> None:
        """One served request (from the middleware)."""
        fields = {"method": method, "route": route}
        self._inbox.offer(Observation(uuid.uuid4().hex, REQUEST, at, address, None, None, fields))

    async def drained(self) -> None:
        """Wait until everything queued has been judged."""
        await self._inbox.drained()

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
        return replace(observation, fields={**observation.fields, **found})

    async def _judge(self, observation: Observation) -> None:
        engine = self.requests if observation.type == REQUEST else self.events
        await engine.observe(self._placed(observation))
