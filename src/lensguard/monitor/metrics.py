"""Prometheus metrics, one registry per app: two apps in one process never share a counter.

Label values are bounded on purpose: routes are path templates (``unmatched`` for
anything else), methods a fixed set, actions the policy's permissions. Free text
(addresses, reasons from admins) never becomes a label.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from lensguard.store.db import Database
from lensguard.store.models import LoginSession
from lensguard.store.types import utcnow

NAMESPACE = "lensguard"
PROCESSING_OUTCOMES = ("processed", "skipped", "failed")


class Metrics:
    """The app's registry and every instrument in it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.auth_successes = Counter(
            "auth_successes",
            "Successful authentications",
            ["method"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.auth_failures = Counter(
            "auth_failures", "Failed authentications", ["method"], namespace=NAMESPACE, registry=r
        )
        self.authorization_denials = Counter(
            "authorization_denials",
            "Requests the access policy denied",
            ["action"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.requests = Counter(
            "http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["route"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.rate_limited = Counter(
            "rate_limited_requests",
            "Requests refused with 429; limiter=address (every route) or route (login, API key)",
            ["limiter"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.blocked_requests = Counter(
            "blocked_requests",
            "Requests refused because the client address is blocklisted",
            ["transport"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.suspicious_requests = Counter(
            "suspicious_requests",
            "Requests whose path or query looked like an attack, by severity",
            ["severity"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.active_sessions = Gauge(
            "active_sessions",
            "Sign-in sessions neither ended nor expired (read at scrape time)",
            namespace=NAMESPACE,
            registry=r,
        )
        # Fed by the live-video code once it lands; defined now so dashboards can be built.
        self.signaling_messages = Counter(
            "signaling_messages",
            "Signaling messages accepted, by message type",
            ["type"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.signaling_refused = Counter(
            "signaling_refused_messages",
            "Signaling messages refused, by reason",
            ["reason"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.online_devices = Gauge(
            "online_devices", "Devices connected now", namespace=NAMESPACE, registry=r
        )
        self.viewers = Gauge("viewers", "Viewers watching now", namespace=NAMESPACE, registry=r)
        self.detections = Counter(
            "detections",
            "Objects the AI chain reported to viewers",
            namespace=NAMESPACE,
            registry=r,
        )

        self.processing_frames = Counter(
            "processing_frames",
            "Frames of AI-processed streams, by outcome (processed, skipped when behind, "
            "failed: blanked or passed on per the stream's redaction rule)",
            ["outcome"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.unredacted_viewers = Gauge(
            "unredacted_viewers",
            "Viewers watching a redacted stream unredacted (break-glass) now",
            namespace=NAMESPACE,
            registry=r,
        )
        self._processing_seen: dict[str, int] = {}

    def observe_processing(self, counts: Mapping[str, int], unredacted: int) -> None:
        """Bring the processing counters up to ``counts`` (running totals) and the gauge."""
        for outcome in PROCESSING_OUTCOMES:
            total = int(counts.get(outcome, 0))
            delta = total - self._processing_seen.get(outcome, 0)
            if delta > 0:
                self.processing_frames.labels(outcome=outcome).inc(delta)
                self._processing_seen[outcome] = total
        self.unredacted_viewers.set(unredacted)

    def exposition(self) -> bytes:
        """Every series in the text exposition format."""
        return generate_latest(self.registry)

    async def refresh_active_sessions(self, db: Database) -> None:
        """Set the active-sessions gauge from one COUNT query."""
        self.active_sessions.set(await count_active_sessions(db))


async def count_active_sessions(db: Database) -> int:
    """Sessions not revoked and not past their absolute end."""
    query = (
        select(func.count())
        .select_from(LoginSession)
        .where(LoginSession.revoked_at.is_(None), LoginSession.expires_at > utcnow())
    )
    async with db.sessions() as session:
        return int(await session.scalar(query) or 0)
