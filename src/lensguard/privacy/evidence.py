"""Evidence for compliance controls, read from live data over a period.

Each collector looks at the database, the audit chain or the settings in force and
returns an ``Evidence``: ``evidenced`` (the data supports the control), ``gap`` (the data
shows a shortfall, said in ``summary``) or ``no_evidence`` (nothing in the period to
judge by). Nothing here is a fixed answer: a collector that cannot find its data says
so. ``reports.py`` maps frameworks' controls to these collectors.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from lensguard.access.policy import load_policy
from lensguard.audit import AuditLog
from lensguard.audit.models import AuditCheckpoint, AuditEntry
from lensguard.incidents.models import Incident, IncidentEntry
from lensguard.privacy.access_review import REVIEW_ACTION, ReviewOptions, build_review
from lensguard.privacy.registry import NOT_YET_ENCRYPTED, REGISTRY
from lensguard.recordings.models import RecordingSegment
from lensguard.settings import Settings
from lensguard.store.db import Database

EVIDENCED = "evidenced"
GAP = "gap"
NO_EVIDENCE = "no_evidence"
RANK = {EVIDENCED: 0, NO_EVIDENCE: 1, GAP: 2}


@dataclass(frozen=True)
class Period:
    """From ``start`` up to and including ``end``."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Evidence:
    """What one collector found: a status, a sentence, and the figures behind it."""

    name: str
    status: str
    summary: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sources:
    """Where evidence is read from."""

    db: Database
    audit: AuditLog
    settings: Settings


Collector = Callable[[Sources, Period], Awaitable[Evidence]]


async def _count(sources: Sources, *where: Any) -> int:
    async with sources.db.sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
        )


def _in(period: Period) -> tuple[Any, Any]:
    return AuditEntry.ts >= period.start, AuditEntry.ts <= period.end


async def audit_chain(sources: Sources, period: Period) -> Evidence:
    """The audit chain verifies end to end, and it recorded the period."""
    report = await sources.audit.verify(sources.db)
    entries = await _count(sources, *_in(period))
    async with sources.db.sessions() as session:
        checkpoints = await session.scalar(
            select(func.count())
            .select_from(AuditCheckpoint)
            .where(AuditCheckpoint.ts >= period.start, AuditCheckpoint.ts <= period.end)
        )
    facts = {
        "verified": report.ok,
        "entries_checked": report.checked,
        "first_broken_seq": report.first_broken_seq,
        "entries_in_period": entries,
        "signed_checkpoints_in_period": int(checkpoints or 0),
        "pruned_up_to": report.anchor_seq,
    }
    if not report.ok:
        why = f"the audit chain is broken at entry {report.first_broken_seq}: {report.reason}"
        return Evidence("audit_chain", GAP, why, facts)
    if not entries:
        return Evidence("audit_chain", NO_EVIDENCE, "no audit entries in the period", facts)
    signed = facts["signed_checkpoints_in_period"]
    text = f"{report.checked} entries verify; {entries} in the period, {signed} signed checkpoints"
    if report.anchor_seq is not None:
        text += f"; verified from the signed retention anchor at entry {report.anchor_seq}"
    return Evidence("audit_chain", EVIDENCED, text, facts)


ACTIVITY = {
    "sign_ins": ("auth.login",),
    "failed_sign_ins": ("auth.login_failed",),
    "access_denied": ("access.denied",),
    "stream_views": ("stream.view_start",),
    "recording_exports": ("recording.exported", "recording.export_downloaded"),
    "account_changes": ("user.create", "user.update", "user.delete"),
}


async def audit_activity(sources: Sources, period: Period) -> Evidence:
    """Sign-ins, refusals, views, exports and account changes were recorded."""
    facts: dict[str, Any] = {}
    for name, actions in ACTIVITY.items():
        facts[name] = await _count(sources, AuditEntry.action.in_(actions), *_in(period))
    facts["denied_outcomes"] = await _count(sources, AuditEntry.outcome == "denied", *_in(period))
    if not any(facts.values()):
        return Evidence("audit_activity", NO_EVIDENCE, "no activity recorded in the period", facts)
    text = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in facts.items())
    return Evidence("audit_activity", EVIDENCED, f"recorded: {text}", facts)


async def recordings_encrypted(sources: Sources, period: Period) -> Evidence:
    """Recorded video is stored encrypted, one data key per segment."""
    async with sources.db.sessions() as session:
        row = (
            await session.execute(
                select(
                    func.count(),
                    func.count(RecordingSegment.wrapped_key),
                ).where(
                    RecordingSegment.started_at >= period.start,
                    RecordingSegment.started_at <= period.end,
                )
            )
        ).one()
    total, keyed = int(row[0]), int(row[1])
    facts = {"segments": total, "with_wrapped_key": keyed, "shredded": total - keyed}
    if not total:
        return Evidence("recordings_encrypted", NO_EVIDENCE, "no recordings in the period", facts)
    text = (
        f"{total} segments, each encrypted under its own data key "
        f"({keyed} keys kept, {total - keyed} shredded)"
    )
    return Evidence("recordings_encrypted", EVIDENCED, text, facts)


async def personal_fields_encrypted(sources: Sources, period: Period) -> Evidence:
    """Personal columns are encrypted field by field."""
    personal = [
        f"{t}.{c}"
        for t, table in REGISTRY.items()
        for c, column in table.columns.items()
        if column.cls.value == "personal"
    ]
    clear = sorted(NOT_YET_ENCRYPTED)
    facts = {"personal_columns": len(personal), "in_clear": len(clear), "columns_in_clear": clear}
    if clear:
        text = f"{len(clear)} of {len(personal)} personal columns are stored in clear"
        return Evidence("personal_fields_encrypted", GAP, text, facts)
    return Evidence(
        "personal_fields_encrypted", EVIDENCED, "every personal column is encrypted", facts
    )


async def transport_tls(sources: Sources, period: Period) -> Evidence:
    """HTTPS to clients, TLS to PostgreSQL and Redis when they are remote."""
    s = sources.settings
    local_db = s.database_url.startswith("sqlite")
    facts = {
        "https": s.security.encryption.enabled,
        "database": "local file" if local_db else ("tls" if s.database.tls.enabled else "plain"),
        "redis": "none" if s.redis_url is None else ("tls" if s.redis.tls.enabled else "plain"),
    }
    plain = [name for name in ("database", "redis") if facts[name] == "plain"]
    if not facts["https"]:
        plain.insert(0, "clients (HTTPS off)")
    if plain:
        return Evidence("transport_tls", GAP, f"unencrypted transport: {', '.join(plain)}", facts)
    return Evidence("transport_tls", EVIDENCED, "every connection is encrypted", facts)


async def access_reviews(sources: Sources, period: Period) -> Evidence:
    """Access reviews took place in the period, and none was overdue at its end."""
    where = (AuditEntry.action == REVIEW_ACTION, AuditEntry.outcome == "success")
    held = await _count(sources, *where, *_in(period))
    async with sources.db.sessions() as session:
        last = await session.scalar(
            select(func.max(AuditEntry.ts)).where(*where, AuditEntry.ts <= period.end)
        )
    every = ReviewOptions().every_days
    facts = {"reviews_in_period": held, "last_review": last.isoformat() if last else None}
    if last is None:
        return Evidence("access_reviews", NO_EVIDENCE, "no access review was ever recorded", facts)
    overdue = last + timedelta(days=every) <= period.end
    facts["overdue_at_period_end"] = overdue
    if overdue or not held:
        text = f"{held} reviews in the period; the last ({last:%Y-%m-%d}) is over {every} days old"
        return Evidence("access_reviews", GAP if overdue else NO_EVIDENCE, text, facts)
    return Evidence("access_reviews", EVIDENCED, f"{held} reviews in the period", facts)


async def mfa_privileged(sources: Sources, period: Period) -> Evidence:
    """Every enabled privileged account has a second factor."""
    policy = load_policy(sources.settings.security.access_control.policy_file)
    async with sources.db.sessions() as session:
        review = await build_review(session, policy, now=period.end, options=ReviewOptions())
    privileged = [a for a in review.accounts if a.privileged and not a.disabled]
    missing = sorted(a.username for a in review.privileged_without_mfa)
    facts = {"privileged_accounts": len(privileged), "without_mfa": missing}
    if not privileged:
        return Evidence("mfa_privileged", NO_EVIDENCE, "no enabled privileged account", facts)
    if missing:
        text = f"{len(missing)} of {len(privileged)} privileged accounts have no second factor"
        return Evidence("mfa_privileged", GAP, text, facts)
    return Evidence("mfa_privileged", EVIDENCED, f"all {len(privileged)} have MFA", facts)


NOTIFY_STEP = "authority"
"""The step of a playbook with a deadline that records the notification (docs/threats.md)."""


async def breach_notification(sources: Sources, period: Period) -> Evidence:
    """Incidents with a notification deadline had their ``authority`` step done in time."""
    async with sources.db.sessions() as session:
        found = list(
            await session.scalars(
                select(Incident).where(
                    Incident.notify_by.is_not(None),
                    Incident.opened_at >= period.start,
                    Incident.opened_at <= period.end,
                )
            )
        )
        notified: dict[str, datetime] = {}
        for incident in found:
            steps = await session.scalars(
                select(IncidentEntry)
                .where(IncidentEntry.incident_id == incident.id, IncidentEntry.kind == "step")
                .order_by(IncidentEntry.n)
            )
            for entry in steps:
                body = json.loads(entry.body)
                if body.get("step") == NOTIFY_STEP and body.get("status") == "done":
                    notified[incident.id] = entry.at
                    break
    rows = []
    late = 0
    for incident in found:
        at = notified.get(incident.id)
        deadline = incident.notify_by
        assert deadline is not None
        on_time = at is not None and at <= deadline
        if not on_time and (at is not None or deadline <= period.end):
            late += 1
        rows.append(
            {
                "incident": incident.id,
                "kind": incident.kind,
                "opened_at": incident.opened_at.isoformat(),
                "notify_by": deadline.isoformat(),
                "notified_at": at.isoformat() if at else None,
                "on_time": on_time,
            }
        )
    facts = {"incidents": rows, "late_or_missed": late}
    if not found:
        return Evidence("breach_notification", NO_EVIDENCE, "no incident with a deadline", facts)
    if late:
        text = f"{late} of {len(found)} notifications late or missed"
        return Evidence("breach_notification", GAP, text, facts)
    return Evidence("breach_notification", EVIDENCED, f"{len(found)} notified in time", facts)


async def incident_response(sources: Sources, period: Period) -> Evidence:
    """Incidents were opened, acknowledged and run along the flow."""
    async with sources.db.sessions() as session:
        found = list(
            await session.scalars(
                select(Incident).where(
                    Incident.opened_at >= period.start, Incident.opened_at <= period.end
                )
            )
        )
    waits = [(i.acknowledged_at - i.opened_at).total_seconds() for i in found if i.acknowledged_at]
    states: dict[str, int] = {}
    for incident in found:
        states[incident.state] = states.get(incident.state, 0) + 1
    facts = {
        "incidents": len(found),
        "by_state": states,
        "unacknowledged": sum(1 for i in found if i.acknowledged_at is None),
        "median_minutes_to_acknowledge": round(sorted(waits)[len(waits) // 2] / 60, 1)
        if waits
        else None,
        "escalated": sum(1 for i in found if i.escalation_level),
    }
    if not found:
        return Evidence("incident_response", NO_EVIDENCE, "no incidents in the period", facts)
    text = f"{len(found)} incidents; {facts['unacknowledged']} never acknowledged"
    status = GAP if facts["unacknowledged"] else EVIDENCED
    return Evidence("incident_response", status, text, facts)


async def subject_requests(sources: Sources, period: Period) -> Evidence:
    """Subject access requests were answered with exports."""
    exports = await _count(sources, AuditEntry.action == "privacy.export", *_in(period))
    facts = {"exports": exports}
    if not exports:
        return Evidence("subject_requests", NO_EVIDENCE, "no subject export in the period", facts)
    return Evidence("subject_requests", EVIDENCED, f"{exports} subject exports", facts)


async def erasure(sources: Sources, period: Period) -> Evidence:
    """A person's data can be erased on request, and requests were answered."""
    done = await _count(sources, AuditEntry.action == "privacy.erasure", *_in(period))
    asked = await _count(sources, AuditEntry.action == "privacy.erasure_request", *_in(period))
    facts = {
        "requests": asked,
        "erasures": done,
        "four_eyes": sources.settings.privacy.erasure_four_eyes,
    }
    if not asked and not done:
        return Evidence("erasure", NO_EVIDENCE, "no erasure requested in the period", facts)
    text = f"{asked} erasures requested and {done} carried out (with signed certificates)"
    return Evidence("erasure", EVIDENCED, text, facts)


async def retention(sources: Sources, period: Period) -> Evidence:
    """Data is kept no longer than its retention."""
    recordings = await _count(sources, AuditEntry.action == "recording.retention_run", *_in(period))
    others = await _count(sources, AuditEntry.action == "privacy.retention_run", *_in(period))
    settings = sources.settings
    audit_days = settings.privacy.retention.audit_days
    audit_log = (
        "kept whole"
        if audit_days is None
        else f"pruned after {audit_days} days behind a signed anchor"
    )
    facts = {
        "recording_retention_runs": recordings,
        "data_retention_runs": others,
        "recording_days": settings.recordings.retention.days.model_dump(),
        "recording_job_enabled": settings.recordings.retention.enabled,
        "data_job_enabled": settings.privacy.retention.enabled,
        "audit_log": audit_log,
    }
    off = [
        name
        for name, on in (
            ("recordings", settings.recordings.retention.enabled),
            ("other data", settings.privacy.retention.enabled),
        )
        if not on
    ]
    if off:
        text = f"retention is switched off for: {', '.join(off)}"
        return Evidence("retention", GAP, text, facts)
    if not others:
        text = "no retention run removed anything in the period"
        return Evidence("retention", NO_EVIDENCE, text, facts)
    text = (
        f"{others} data and {recordings} recording retention runs removed expired rows; "
        f"the audit log is {audit_log}"
    )
    return Evidence("retention", EVIDENCED, text, facts)


async def record_of_processing(sources: Sources, period: Period) -> Evidence:
    """An Art. 30 record exists and covers every stored column."""
    columns = sum(len(t.columns) for t in REGISTRY.values())
    facts = {"tables": len(REGISTRY), "columns": columns}
    text = f"{len(REGISTRY)} tables, {columns} columns classified (lensguard privacy inventory)"
    return Evidence("record_of_processing", EVIDENCED, text, facts)


COLLECTORS: dict[str, Collector] = {
    c.__name__: c
    for c in (
        audit_chain,
        audit_activity,
        recordings_encrypted,
        personal_fields_encrypted,
        transport_tls,
        access_reviews,
        mfa_privileged,
        breach_notification,
        incident_response,
        subject_requests,
        erasure,
        retention,
        record_of_processing,
    )
}
