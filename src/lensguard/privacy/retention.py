"""``DataRetention``: what is not a recording is kept no longer than its class says.

Each run, under a cluster-wide lease (Redis) or a host-wide file lock (embedded mode):

- ``sessions``: sign-in sessions that ended (expired or revoked) more than
  ``sessions_days`` ago, with their refresh tokens; each account's most recently used
  session stays, so its last sign-in (the access review's staleness) stays known;
- ``api_keys``: keys revoked or expired more than ``api_keys_days`` ago;
- ``recovery_codes``: codes used more than ``recovery_codes_days`` ago;
- ``break_glass``: break-glass grants ended or expired more than ``break_glass_days`` ago;
- ``revocations``: entries of the embedded revocation store past their expiry;
- ``incidents``: closed incidents and false positives, with their timelines, whose
  last activity is more than ``incidents_days`` old;
- ``audit_log``: entries more than ``audit_days`` old, behind a signed anchor
  (``privacy/audit_retention.py``, ``audit/prune.py``);
- ``inactive_accounts``: accounts with no sign-in for ``inactive_account_days`` are
  named in the report and alerted (``privacy.accounts_inactive``), and with
  ``inactive_action: disable`` disabled through ``disable`` (never the last enabled
  administrator);
- the access-review reminder: while a review is overdue, a HIGH
  ``compliance.access_review_due`` alert, at most once a day.

Rows go in batches of ``batch``, one transaction each, oldest first, so a run killed at
any point leaves only whole batches done and the next run carries on. A dry run counts
and changes nothing. Every run that removed or would remove something is audited as
``privacy.retention_run`` with its counts. Recordings have their own job
(docs/recordings.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, func, or_, select
from sqlalchemy.orm import aliased

from lensguard.access.policy import Policy
from lensguard.audit import AuditLog
from lensguard.audit.entry import AuditEvent
from lensguard.clock import Clock
from lensguard.incidents.models import Incident, IncidentEntry
from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.periodic import Periodic, Scheduled
from lensguard.privacy.access_review import ReviewOptions, build_review, last_review
from lensguard.privacy.audit_retention import prune_audit
from lensguard.recordings.lease import Lease
from lensguard.settings import DataRetentionSettings
from lensguard.severity import Severity
from lensguard.store.db import Database
from lensguard.store.models import (
    ApiKey,
    LoginSession,
    RecoveryCode,
    RedactionOverride,
    RefreshToken,
    Revocation,
)

log = get_logger("lensguard.privacy")
RUN_ACTION = "privacy.retention_run"
REMINDER_EVERY = timedelta(days=1)
Disable = Callable[[list[str]], Awaitable[list[str]]]
"""Disables the given account ids; the ones it disabled (the server's account path)."""


@dataclass
class RetentionReport:
    """What one run removed (or would, in a dry run), by class."""

    at: datetime
    dry_run: bool
    removed: dict[str, int] = field(default_factory=dict)
    inactive_accounts: list[str] = field(default_factory=list)
    disabled_accounts: list[str] = field(default_factory=list)
    review_overdue: bool = False
    audit_anchor: int | None = None
    """The audit log now starts after this entry (in a dry run: would)."""
    audit_refused: str | None = None
    """Why the audit log was not pruned further: the entries to go do not verify."""
    skipped: str | None = None
    """Why nothing ran (another node holds the lease)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "removed": dict(self.removed),
            "inactive_accounts": list(self.inactive_accounts),
            "disabled_accounts": list(self.disabled_accounts),
            "review_overdue": self.review_overdue,
            "audit_anchor": self.audit_anchor,
            "audit_refused": self.audit_refused,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class _Class:
    name: str
    table: Table
    key: Any
    """The primary-key column."""
    expired: Callable[[datetime], ColumnElement[bool]]
    order: Any
    children: tuple[tuple[Table, Any], ...] = ()
    """(table, column naming the parent's key): removed first."""


def _classes(settings: DataRetentionSettings) -> list[_Class]:
    def days(n: int, now: datetime) -> datetime:
        return now - timedelta(days=n)

    ended = func.coalesce(LoginSession.revoked_at, LoginSession.expires_at)
    # Each account's most recently used session, found once (not per row).
    newest = aliased(LoginSession)
    last_use = (
        select(newest.user_id, func.max(newest.last_used_at).label("at"))
        .group_by(newest.user_id)
        .subquery()
    )
    kept = select(newest.id).join(
        last_use, and_(last_use.c.user_id == newest.user_id, last_use.c.at == newest.last_used_at)
    )
    key_end = func.coalesce(ApiKey.revoked_at, ApiKey.expires_at)
    grant_end = func.coalesce(RedactionOverride.ended_at, RedactionOverride.expires_at)
    return [
        _Class(
            "sessions",
            LoginSession.__table__,  # type: ignore[arg-type]
            LoginSession.id,
            lambda now: and_(
                or_(
                    LoginSession.expires_at < days(settings.sessions_days, now),
                    LoginSession.revoked_at < days(settings.sessions_days, now),
                ),
                LoginSession.id.not_in(kept),  # the last sign-in stays known
            ),
            ended,
            children=((RefreshToken.__table__, RefreshToken.session_id),),  # type: ignore[arg-type]
        ),
        _Class(
            "api_keys",
            ApiKey.__table__,  # type: ignore[arg-type]
            ApiKey.id,
            lambda now: or_(
                ApiKey.expires_at < days(settings.api_keys_days, now),
                ApiKey.revoked_at < days(settings.api_keys_days, now),
            ),
            key_end,
        ),
        _Class(
            "recovery_codes",
            RecoveryCode.__table__,  # type: ignore[arg-type]
            RecoveryCode.id,
            lambda now: RecoveryCode.used_at < days(settings.recovery_codes_days, now),
            RecoveryCode.used_at,
        ),
        _Class(
            "break_glass",
            RedactionOverride.__table__,  # type: ignore[arg-type]
            RedactionOverride.id,
            lambda now: or_(
                RedactionOverride.expires_at < days(settings.break_glass_days, now),
                RedactionOverride.ended_at < days(settings.break_glass_days, now),
            ),
            grant_end,
        ),
        _Class(
            "revocations",
            Revocation.__table__,  # type: ignore[arg-type]
            Revocation.key,
            lambda now: Revocation.expires_at < now,
            Revocation.expires_at,
        ),
        _Class(
            "incidents",
            Incident.__table__,  # type: ignore[arg-type]
            Incident.id,
            lambda now: and_(
                Incident.state.in_(["closed", "false_positive"]),
                Incident.last_seen_at < days(settings.incidents_days, now),
                or_(
                    Incident.acknowledged_at.is_(None),
                    Incident.acknowledged_at < days(settings.incidents_days, now),
                ),
            ),
            Incident.last_seen_at,
            children=((IncidentEntry.__table__, IncidentEntry.incident_id),),  # type: ignore[arg-type]
        ),
    ]


class DataRetention:
    """The job; see the module docstring."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        policy: Policy,
        settings: DataRetentionSettings,
        *,
        clock: Clock,
        lease: Lease,
        disable: Disable | None = None,
    ) -> None:
        self.db, self.audit, self.policy, self.settings = db, audit, policy, settings
        self.clock, self.lease, self.disable = clock, lease, disable
        self._reminded: datetime | None = None

    async def run(self, *, dry_run: bool = False) -> RetentionReport:
        """One pass over every class (see the module docstring)."""
        now = self.clock.now()
        report = RetentionReport(at=now, dry_run=dry_run)
        if not await self.lease.acquire():
            report.skipped = "another run holds the lease"
            return report
        try:
            for kind in _classes(self.settings):
                report.removed[kind.name] = await self._expire(kind, now, dry_run=dry_run)
                await self.lease.renew()
            await self._audit_log(report, now, dry_run=dry_run)
            await self._inactive(report, now, dry_run=dry_run)
            await self._reminder(report, now, dry_run=dry_run)
            changed = any(report.removed.values()) or report.disabled_accounts
            if changed or report.audit_refused or dry_run:
                await self._audit(report)
        finally:
            await self.lease.release()
        log.info("privacy_retention_run", **report.as_dict())
        return report

    async def _expire(self, kind: _Class, now: datetime, *, dry_run: bool) -> int:
        where = kind.expired(now)
        if dry_run:
            async with self.db.sessions() as session:
                count = await session.scalar(
                    select(func.count()).select_from(kind.table).where(where)
                )
            return int(count or 0)
        removed = 0
        while True:
            async with self.db.transaction() as session:
                keys = list(
                    await session.scalars(
                        select(kind.key)
                        .where(where)
                        .order_by(kind.order)
                        .limit(self.settings.batch)
                    )
                )
                if not keys:
                    return removed
                for child, column in kind.children:
                    await session.execute(delete(child).where(column.in_(keys)))
                await session.execute(delete(kind.table).where(kind.key.in_(keys)))
            removed += len(keys)

    async def _audit_log(self, report: RetentionReport, now: datetime, *, dry_run: bool) -> None:
        async def renew(_: int) -> None:
            await self.lease.renew()

        pruned = await prune_audit(
            self.db, self.audit, self.settings, now=now, dry_run=dry_run, on_batch=renew
        )
        if pruned is None:
            return
        report.removed["audit_log"] = pruned.removed
        report.audit_anchor, report.audit_refused = pruned.anchor_seq, pruned.refused
        if pruned.refused is not None and not dry_run:
            emit("audit.prune_refused", severity=Severity.HIGH, reason=pruned.refused)

    async def _inactive(self, report: RetentionReport, now: datetime, *, dry_run: bool) -> None:
        options = ReviewOptions(stale_days=self.settings.inactive_account_days)
        async with self.db.sessions() as session:
            review = await build_review(session, self.policy, now=now, options=options)
        stale = [a for a in review.accounts if a.stale and not a.disabled]
        report.inactive_accounts = sorted(a.username for a in stale)
        if not stale or dry_run:
            return
        emit(
            "privacy.accounts_inactive",
            severity=Severity.MEDIUM,
            accounts=report.inactive_accounts[:50],
            count=len(stale),
            days=self.settings.inactive_account_days,
        )
        if self.settings.inactive_action == "disable" and self.disable is not None:
            done = await self.disable([a.id for a in stale])
            names = {a.id: a.username for a in stale}
            report.disabled_accounts = sorted(names[i] for i in done if i in names)

    async def _reminder(self, report: RetentionReport, now: datetime, *, dry_run: bool) -> None:
        if not self.settings.review_reminder:
            return
        async with self.db.sessions() as session:
            last = await last_review(session)
        every = timedelta(days=ReviewOptions().every_days)
        report.review_overdue = last is None or last + every <= now
        if not report.review_overdue or dry_run:
            return
        if self._reminded is not None and now - self._reminded < REMINDER_EVERY:
            return
        self._reminded = now
        emit(
            "compliance.access_review_due",
            severity=Severity.HIGH,
            last_review=last.isoformat() if last else None,
            due_since=(last + every).isoformat() if last else None,
        )

    async def _audit(self, report: RetentionReport) -> None:
        details = {
            "dry_run": report.dry_run,
            "removed": dict(report.removed),
            "inactive_accounts": len(report.inactive_accounts),
            "disabled_accounts": report.disabled_accounts[:50],
        }
        if report.audit_anchor is not None:
            details["audit_anchor"] = report.audit_anchor
        if report.audit_refused is not None:
            details["audit_refused"] = report.audit_refused
        async with self.db.transaction() as session:
            await self.audit.append(
                session,
                AuditEvent(
                    action=RUN_ACTION,
                    outcome="success",
                    actor_type="system",
                    resource_type="retention",
                    details=details,
                ),
            )


class RetentionLoop(Scheduled):
    """Runs the job every ``interval_seconds`` on the app's clock; failures are logged."""

    def __init__(self, job: DataRetention, *, clock: Clock, interval: float) -> None:
        self.job, self.clock, self.interval = job, clock, interval
        # Shielded turns: stopping waits for a run in progress (whole batches, the lease
        # released, its connection returned) instead of cutting it off mid-query.
        self._every: Periodic[RetentionReport] = Periodic(
            job.run, clock=clock, interval=interval, on_failure=self._failed
        )

    @property
    def runs(self) -> int:
        return self._every.runs

    def _failed(self, exc: Exception) -> None:
        log.error("privacy_retention_failed", error=type(exc).__name__)
