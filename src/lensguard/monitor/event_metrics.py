"""Count security events (sign-in outcomes, denials) as they are published.

Identity code already emits an event for each outcome, so it needs no metrics code
of its own. Each app's publisher has one subscriber counting into that app's
registry, so two apps in one process keep separate counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.metrics import Metrics

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


def metrics_subscriber(metrics: Metrics) -> Callable[[SecurityEvent], None]:
    """The publisher subscriber that counts each event into ``metrics``."""

    def count(event: SecurityEvent) -> None:
        count_event(metrics, event.type, event.log_fields())

    return count
