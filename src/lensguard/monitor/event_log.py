"""The JSON log subscriber: one record per security event on ``lensguard.security``."""

from __future__ import annotations

from lensguard.logs import get_logger
from lensguard.monitor.event import SecurityEvent
from lensguard.severity import Severity

SECURITY_LOGGER = "lensguard.security"
_log = get_logger(SECURITY_LOGGER)
_LEVEL = {
    Severity.LOW: "info",
    Severity.MEDIUM: "warning",
    Severity.HIGH: "warning",
    Severity.CRITICAL: "error",
}


def log_event(event: SecurityEvent) -> None:
    """Write ``event`` as a log line; fields are masked like every log record."""
    getattr(_log, _LEVEL[event.severity])(
        event.type, security_event=True, severity=event.severity.value, **event.log_fields()
    )
