"""Count security events (sign-in outcomes, denials) from the ``lensguard.security`` log.

Identity code already emits an event for each outcome, so it needs no metrics code
of its own. One handler per process sits on that logger; it counts into the
registry of the app serving the current request, which ``MetricsMiddleware`` puts
in a context variable, so two apps in one process keep separate counts.

Events count only when they are logged: structlog must be routed through the
standard library (``configure_logging`` does) at a level that lets INFO through.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from lensguard.monitor.metrics import Metrics

SECURITY_LOGGER = "lensguard.security"
current_metrics: ContextVar[Metrics | None] = ContextVar("lensguard_metrics", default=None)

SUCCESSES = {"auth.login_succeeded": "password", "auth.refreshed": "refresh_token"}
FAILURES = {
    "auth.login_failed": "password",
    "auth.mfa_failed": "totp",
    "auth.password_change_failed": "password",
    "auth.refresh_failed": "refresh_token",
    "auth.refresh_reuse_detected": "refresh_token",
    "auth.rejected": "bearer",
}
DENIED = "access.denied"


def count_event(metrics: Metrics, event: str, fields: Mapping[str, Any]) -> None:
    """Add one security event to the counters it feeds, if any."""
    if event in SUCCESSES:
        metrics.auth_successes.labels(method=SUCCESSES[event]).inc()
    elif event in FAILURES:
        metrics.auth_failures.labels(method=FAILURES[event]).inc()
    elif event == DENIED:
        action = fields.get("action")
        metrics.authorization_denials.labels(action=str(action) if action else "unknown").inc()


class SecurityEventCounter(logging.Handler):
    """A logging handler that feeds ``count_event``; it never formats or writes anything."""

    def emit(self, record: logging.LogRecord) -> None:
        metrics = current_metrics.get()
        fields = record.msg
        if metrics is None or not isinstance(fields, Mapping):
            return
        try:
            count_event(metrics, str(fields.get("event", "")), fields)
        except Exception:
            self.handleError(record)


def install_event_counter() -> None:
    """Attach the handler to ``lensguard.security`` once per process."""
    logger = logging.getLogger(SECURITY_LOGGER)
    if not any(isinstance(h, SecurityEventCounter) for h in logger.handlers):
        logger.addHandler(SecurityEventCounter())
