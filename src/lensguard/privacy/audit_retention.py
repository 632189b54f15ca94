"""The audit log's retention: one step of the data-retention job (``audit/prune.py`` does it).

Entries go ``audit_days`` after they were written, with three exceptions that keep more:

- an incident that is not closed (nor a false positive) keeps the log as it stood when
  the incident opened: nothing written after ``opened_at - audit_days`` goes;
- a legal hold not yet released does the same from when it was placed (``created_at``);
- entries a stored recording relies on (its ``recording.anchored`` and
  ``recording.trimmed`` entries, which ``lensguard recordings verify`` reads) stay while
  any segment of that recording is stored, and so does everything after them.

The rule is coarse on purpose: a hold or an investigation freezes the whole log, not a
guess at which entries matter to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select

from lensguard.audit import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.audit.prune import OnBatch, PruneResult, prune
from lensguard.incidents.models import Incident
from lensguard.recordings.hold_models import LegalHold
from lensguard.recordings.index import ANCHOR_ACTION
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.trim import TRIM_ACTION
from lensguard.settings import DataRetentionSettings
from lensguard.store.db import Database

CLOSED = ("closed", "false_positive")


async def cutoff(db: Database, *, now: datetime, days: int) -> datetime:
    """Entries written before this may go: ``now - days``, earlier under an incident or hold."""
    keep = timedelta(days=days)
    async with db.sessions() as session:
        incident = await session.scalar(
            select(func.min(Incident.opened_at)).where(Incident.state.not_in(CLOSED))
        )
        hold = await session.scalar(
            select(func.min(LegalHold.created_at)).where(LegalHold.released_at.is_(None))
        )
    starts = [now, *(at for at in (incident, hold) if at is not None)]
    return min(starts) - keep


async def keep_from(db: Database) -> int | None:
    """The first entry a stored recording relies on (None when none does)."""
    relied_on = and_(
        AuditEntry.resource_type == "recording",
        AuditEntry.action.in_([ANCHOR_ACTION, TRIM_ACTION]),
        exists().where(RecordingSegment.recording_id == AuditEntry.resource_id),
    )
    async with db.sessions() as session:
        first = await session.scalar(select(func.min(AuditEntry.seq)).where(relied_on))
    return None if first is None else int(first)


async def prune_audit(
    db: Database,
    audit: AuditLog,
    settings: DataRetentionSettings,
    *,
    now: datetime,
    dry_run: bool,
    on_batch: OnBatch | None = None,
) -> PruneResult | None:
    """Prune the audit log past its retention; None when ``audit_days`` keeps it whole."""
    if settings.audit_days is None:
        return None
    return await prune(
        db,
        audit,
        before=await cutoff(db, now=now, days=settings.audit_days),
        now=now,
        keep_from=await keep_from(db),
        batch=settings.batch,
        dry_run=dry_run,
        on_batch=on_batch,
    )
