"""Delivery over HTTP for the alert sinks: one POST retried as the gateway allows.

The webhook and SMS sinks share the rules: 2xx delivered; redirects and other 4xx
refused for good; 429, 5xx, network and resolution errors retried with backoff,
never sooner than the gateway's ``Retry-After`` (capped).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from lensguard.monitor.alerts.errors import (
    DeliveryFailed,
    DeliveryRejected,
    UnresolvableDestination,
)
from lensguard.monitor.alerts.sink import backoff_delay

Attempt = Callable[[], Awaitable[tuple[int, float | None]]]
"""One POST: the status and the ``Retry-After`` seconds (None when absent)."""


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait that ``value`` asks for; None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


async def deliver_with_retries(
    attempt: Attempt,
    *,
    name: str,
    what: str,
    max_attempts: int,
    backoff: float,
    max_backoff: float,
    sleep: Callable[[float], Awaitable[object]],
    network_error: Callable[[httpx.TransportError], str],
) -> None:
    """Run ``attempt`` until delivered, refused (``DeliveryRejected``) or out of tries
    (``DeliveryFailed``); ``what`` names the payload in the refusal message."""
    last = "no attempt made"
    for number in range(1, max_attempts + 1):
        delay = backoff_delay(number, base=backoff, cap=max_backoff)
        try:
            status, retry_after = await attempt()
        except UnresolvableDestination as exc:
            last = str(exc)
        except httpx.TransportError as exc:
            last = network_error(exc)
        else:
            if 200 <= status < 300:
                return
            if 300 <= status < 400:
                raise DeliveryRejected(f"{name} answered {status}; redirects are refused")
            if status < 500 and status != 429:
                raise DeliveryRejected(f"{name} refused {what} with status {status}")
            last = f"status {status}"
            if retry_after is not None:
                delay = min(max(delay, retry_after), max_backoff)
        if number < max_attempts:
            await sleep(delay)
    raise DeliveryFailed(f"{name} failed after {max_attempts} attempts: {last}")
