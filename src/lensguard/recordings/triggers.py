"""What opens an event clip: the relay's detections and motion, and incidents.

- ``DetectionTrigger`` listens to one relay's processing stage
  (``DeviceRelay.detection_listeners``): any detection on a frame the chain finished,
  or only those whose label is in ``labels``, triggers the gate at the clock's time.
  ``motion_detect`` reports label ``motion``, so motion is one of these (reason
  ``motion``); every other label is reason ``detection:<label>``.
- ``IncidentTrigger`` subscribes to the app's ``EventPublisher``: a security event of
  severity HIGH or above that names the device (as its ``resource`` or a
  ``device_id`` field) triggers the gate at the event's time (reason
  ``incident:<type>``). Events of the recordings themselves (``recording.*``, e.g. a
  full disk) never do: a failing clip must not open another.

Both are plain synchronous callbacks that return at once; the gate does its writing
on its own tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from lensguard.media.relay import DeviceRelay
from lensguard.monitor.alerts.event import at_least
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.publisher import EventPublisher
from lensguard.severity import Severity
from lensguard.vision.motion import MOTION_LABEL

MAX_REASON = 64
"""Reasons are cut to this many characters (labels come from operators' models)."""
OWN_EVENTS = "recording."


class Gate(Protocol):
    """What a trigger needs of ``EventGate``."""

    device_id: str

    def trigger(self, reason: str, device_id: str, at: datetime) -> bool: ...


def _reason(text: str) -> str:
    return text[:MAX_REASON]


class DetectionTrigger:
    """Triggers ``gate`` on a relay's detections (all labels, or only ``labels``)."""

    def __init__(
        self,
        gate: Gate,
        *,
        now: Callable[[], datetime],
        labels: Collection[str] | None = None,
    ) -> None:
        self._gate = gate
        self._now = now
        self.labels = frozenset(labels) if labels is not None else None

    def __call__(self, pts: int | None, detections: Sequence[Any]) -> None:
        """A relay's detection listener: the first selected label of a frame triggers."""
        for detection in detections:
            label = getattr(detection, "label", None)
            if not isinstance(label, str) or (self.labels is not None and label not in self.labels):
                continue
            reason = MOTION_LABEL if label == MOTION_LABEL else f"detection:{label}"
            self._gate.trigger(_reason(reason), self._gate.device_id, self._now())
            return

    def attach(self, relay: DeviceRelay) -> Callable[[], None]:
        """Listen to ``relay``; returns the function that stops listening."""
        relay.detection_listeners.append(self)

        def detach() -> None:
            if self in relay.detection_listeners:
                relay.detection_listeners.remove(self)

        return detach


class IncidentTrigger:
    """Triggers ``gate`` on security events of ``threshold`` or worse that name its device."""

    def __init__(self, gate: Gate, *, threshold: Severity = Severity.HIGH) -> None:
        self._gate = gate
        self.threshold = threshold
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, event: SecurityEvent) -> None:
        """The publisher's subscriber: returns at once, from any thread."""
        if not at_least(event.severity, self.threshold) or event.type.startswith(OWN_EVENTS):
            return
        device = self._gate.device_id
        if event.resource != device and event.fields.get("device_id") != device:
            return
        at = event.time if event.time.tzinfo is not None else event.time.replace(tzinfo=UTC)
        reason = _reason(f"incident:{event.type}")
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._gate.trigger(reason, device, at)
        else:  # published on another thread: the gate lives on its loop
            loop.call_soon_threadsafe(self._gate.trigger, reason, device, at)

    def attach(self, publisher: EventPublisher) -> Callable[[], None]:
        """Subscribe to ``publisher`` (on the running loop); returns the unsubscribe."""
        self._loop = asyncio.get_running_loop()
        return publisher.subscribe(self, name=f"event recording {self._gate.device_id}")
