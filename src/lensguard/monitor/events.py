"""``emit``: how code reports a security event to the app's publisher.

The app binds its publisher (owned by the service container) for every request,
socket and lifespan task (``bound``); ``emit`` builds a ``SecurityEvent`` and
publishes it there, so the audit chain, metrics, alert sinks and the JSON log see
the same event. Code running outside any app (a CLI command) has no publisher;
its events go to the JSON log alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from lensguard.monitor.event import Outcome, SecurityEvent
from lensguard.monitor.event_log import log_event
from lensguard.monitor.publisher import EventPublisher
from lensguard.severity import Severity

current_publisher: ContextVar[EventPublisher | None] = ContextVar(
    "lensguard_event_publisher", default=None
)


@contextmanager
def bound(publisher: EventPublisher) -> Iterator[None]:
    """Make ``publisher`` the target of ``emit`` in this context (and tasks started in it)."""
    token = current_publisher.set(publisher)
    try:
        yield
    finally:
        current_publisher.reset(token)


def publish(event: SecurityEvent) -> None:
    """Hand ``event`` to the bound publisher (the JSON log when none is bound)."""
    publisher = current_publisher.get()
    if publisher is None:
        log_event(event)
    else:
        publisher.publish(event)


def emit(
    event_type: str,
    *,
    severity: Severity = Severity.LOW,
    principal: str | None = None,
    resource: str | None = None,
    outcome: Outcome | None = None,
    address: str | None = None,
    **fields: Any,
) -> None:
    """Publish a security event; ``fields`` are masked wherever they are written."""
    publisher = current_publisher.get()
    event = SecurityEvent(
        event_type,
        severity,
        principal=principal,
        resource=resource,
        outcome=outcome,
        address=address,
        fields=fields,
        time=publisher.now() if publisher is not None else datetime.now(UTC),
    )
    if publisher is None:
        log_event(event)
    else:
        publisher.publish(event)
