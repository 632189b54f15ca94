"""The kinds of detection, each with its default severity and automatic response.

Plain data: the settings validate response overrides against it, the engine stamps
detections with it, docs/threats.md lists it. Imports nothing heavier than the
severity enum.
"""

from __future__ import annotations

from typing import Literal

from lensguard.severity import Severity

ResponseAction = Literal[
    "block_ip", "rate_limit", "block_request", "step_up_mfa", "isolate_account", "alert_and_monitor"
]
RESPONSE_ACTIONS: tuple[ResponseAction, ...] = (
    "block_ip",
    "rate_limit",
    "block_request",
    "step_up_mfa",
    "isolate_account",
    "alert_and_monitor",
)

KINDS: dict[str, tuple[Severity, ResponseAction]] = {
    "brute_force": (Severity.HIGH, "block_ip"),
    "credential_stuffing": (Severity.HIGH, "block_ip"),
    "distributed_brute_force": (Severity.HIGH, "alert_and_monitor"),
    "ddos": (Severity.HIGH, "rate_limit"),
    "injection": (Severity.HIGH, "block_request"),
    "exfiltration": (Severity.HIGH, "alert_and_monitor"),
    "off_hours_access": (Severity.MEDIUM, "alert_and_monitor"),
    "privilege_escalation": (Severity.CRITICAL, "isolate_account"),
    "lateral_movement": (Severity.HIGH, "alert_and_monitor"),
    "device_credential_shared": (Severity.HIGH, "alert_and_monitor"),
    "token_reuse": (Severity.HIGH, "step_up_mfa"),
    "impossible_travel": (Severity.HIGH, "step_up_mfa"),
    "anomaly": (Severity.MEDIUM, "alert_and_monitor"),
}
"""Every detection kind: (default severity, default response)."""
