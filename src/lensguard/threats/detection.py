"""``Detection``: one thing a detector found, and the fan-out that hands it on.

Detectors (rules and the anomaly model) publish detections here; the responses
(block, throttle, isolate, ...) and incident grouping subscribe. Delivery follows the
security-event publisher's contract: synchronous, never blocking the publisher; a
subscriber that does I/O queues the detection for its own task. A subscriber that
raises loses that one detection and is counted in ``failures``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lensguard.logs import get_logger
from lensguard.severity import Severity

log = get_logger("lensguard.threats.detection")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Detection:
    """What was detected (``kind``), how sure (``score`` in [0, 1]) and about whom.

    ``address`` and ``principal`` are the source the detection is about (either may be
    unknown); ``event_ids`` name the security events that triggered it, in the
    publisher's documented event schema, so an offline replay can be checked against
    labels. ``response`` is the configured response's name for this kind
    (``block_ip``, ``rate_limit``, ``block_request``, ``step_up_mfa``,
    ``isolate_account``, ``alert_and_monitor``).
    """

    kind: str
    severity: Severity
    score: float
    response: str
    address: str | None = None
    principal: str | None = None
    event_ids: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=_now)


DetectionSubscriber = Callable[[Detection], None]


@dataclass(frozen=True)
class _Subscription:
    name: str
    handler: DetectionSubscriber


class DetectionPublisher:
    """Hands each detection to every subscriber, in subscription order."""

    def __init__(self) -> None:
        self._subscriptions: tuple[_Subscription, ...] = ()
        self.failures: Counter[str] = Counter()
        """Detections lost per subscriber name because its handler raised."""

    def subscribe(self, handler: DetectionSubscriber, *, name: str) -> Callable[[], None]:
        """Add ``handler``; returns the function that removes it again."""
        subscription = _Subscription(name, handler)
        self._subscriptions = (*self._subscriptions, subscription)

        def unsubscribe() -> None:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

        return unsubscribe

    @property
    def subscribers(self) -> list[str]:
        """The names of the current subscribers, in delivery order."""
        return [s.name for s in self._subscriptions]

    def publish(self, detection: Detection) -> None:
        """Deliver ``detection`` to every subscriber; never raises, never waits."""
        for subscription in self._subscriptions:
            try:
                subscription.handler(detection)
            except Exception as exc:
                self.failures[subscription.name] += 1
                log.warning(
                    "detection_subscriber_failed",
                    subscriber=subscription.name,
                    kind=detection.kind,
                    error=type(exc).__name__,
                )
