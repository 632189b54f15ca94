"""``Severity``: how serious a security event is, ordered for alert thresholds."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Ordered severities for security events and alert thresholds."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"
