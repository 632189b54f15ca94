"""Structured security events: one JSON log record per event on ``lensguard.security``.

Every authentication success and failure and every authorisation denial goes
through ``emit``; later the audit log and alert sinks subscribe to the same calls.
"""

from __future__ import annotations

from typing import Any

from lensguard.logs import get_logger
from lensguard.severity import Severity

_log = get_logger("lensguard.security")
_LEVEL = {
    Severity.LOW: "info",
    Severity.MEDIUM: "warning",
    Severity.HIGH: "warning",
    Severity.CRITICAL: "error",
}


def emit(event_type: str, *, severity: Severity = Severity.LOW, **fields: Any) -> None:
    """Log a security event; ``fields`` are masked like every log record."""
    getattr(_log, _LEVEL[severity])(
        event_type, security_event=True, severity=severity.value, **fields
    )
