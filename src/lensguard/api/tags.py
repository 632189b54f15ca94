"""The OpenAPI tags: one per area of the API, each operation in exactly one."""

from __future__ import annotations

from typing import Any

TAGS: list[dict[str, Any]] = [
    {"name": "auth", "description": "Sign in, tokens, password, MFA and signing keys"},
    {"name": "users", "description": "Accounts (admins) and your own account"},
    {"name": "sessions", "description": "Sign-in sessions: list and end them"},
    {"name": "api-keys", "description": "API keys acting for you or the accounts you manage"},
    {"name": "roles", "description": "The policy in force: roles and their permissions"},
    {"name": "devices", "description": "Robots and cameras: register, rotate, remove"},
    {"name": "streams", "description": "Per-stream processors, redaction and encoding"},
    {"name": "break-glass", "description": "Audited, time-limited unredacted views"},
    {"name": "recordings", "description": "Recorded video: playback, exports, grants, access"},
    {"name": "sites", "description": "Stream policy for every device of a site"},
    {"name": "recording", "description": "Whether a device is recorded; on-demand recordings"},
    {"name": "retention", "description": "How long recordings are kept, and legal holds"},
    {"name": "turn", "description": "Short-lived TURN credentials for WebRTC"},
    {"name": "security", "description": "The IP blocklist"},
    {
        "name": "incidents",
        "description": "Incidents: timeline, playbook steps, owner, notification clock",
    },
    {"name": "privacy", "description": "A data subject's export (GDPR Art. 15 and 20)"},
    {"name": "compliance", "description": "Access review: accounts, stale accounts, unused keys"},
    {"name": "audit", "description": "The tamper-evident audit log: query, verify, checkpoint"},
    {"name": "monitoring", "description": "Prometheus metrics"},
    {"name": "health", "description": "Liveness and readiness probes"},
]
