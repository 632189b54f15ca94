"""The two sink shapes (one event, or a sequenced batch) and the shared retry delay."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from lensguard.monitor.alerts.event import QueuedEvent, SecurityEvent


class AlertSink(Protocol):
    """Sends one event as an alert; raises ``DeliveryFailed`` when it gives up."""

    @property
    def name(self) -> str:
        """A label for logs and counters: kind and host, never a path, query or secret."""
        ...

    async def send(self, event: SecurityEvent) -> None:
        """Deliver ``event`` or raise."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class BatchSink(Protocol):
    """Sends a batch of sequenced events; returning means the receiver acknowledged it."""

    @property
    def name(self) -> str:
        """A label for logs and counters: kind and host, never a path, query or secret."""
        ...

    async def send_batch(self, batch: Sequence[QueuedEvent]) -> None:
        """Deliver every event of ``batch`` in order, or raise."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): exponential, capped, half jittered."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    # Jitter spreads retries of many nodes after a shared outage; keep half so it still grows.
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not for security
