"""The disk quota of a node's local store: an alert at 85 %, oldest segments evicted past 100 %.

Usage is what the files under the store's directory take (partial files included:
they take disk too). Crossing ``quota_alert_percent`` raises one HIGH
``recording.quota_high`` security event; it is raised again only after usage has
fallen below the mark and crossed it anew. Past the quota the oldest segments that
no legal hold covers are evicted, in the order retention uses (keys, files, rows,
each run a recorded cut), until usage is back under the quota; each eviction pass
is audited (``recording.quota_evicted``).
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.logs import get_logger
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings.holds import Holds
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.settings import RetentionSettings
from lensguard.recordings.store import LocalStore, SegmentNotFound
from lensguard.recordings.trim import Crash, remove_run, runs_of
from lensguard.severity import Severity
from lensguard.store.db import Database

log = get_logger("lensguard.recordings")
HIGH_EVENT = "recording.quota_high"
EVICT_ACTION = "recording.quota_evicted"


def used_bytes(store: LocalStore) -> int:
    """Bytes the store's files take on disk (what the quota counts)."""
    if not store.root.is_dir():
        return 0
    total = 0
    for entry in os.scandir(store.root):
        if entry.is_file(follow_symlinks=False):
            total += entry.stat(follow_symlinks=False).st_size
    return total


@dataclass
class QuotaReport:
    """One quota check: usage before and after, and what was evicted."""

    quota: int
    used_before: int
    used_after: int
    evicted_segments: int = 0
    evicted_bytes: int = 0
    alerted: bool = False


class Quota:
    """Watches one node's local store against ``quota_gb``; keeps the alert state."""

    def __init__(
        self,
        db: Database,
        store: LocalStore,
        audit: AuditLog,
        settings: RetentionSettings,
        *,
        events: EventPublisher,
        crash: Crash | None = None,
    ) -> None:
        if settings.quota_bytes is None:
            raise ValueError("no quota is set")
        self.db, self.store, self.audit, self.events = db, store, audit, events
        self.quota = settings.quota_bytes
        self.mark = settings.quota_alert_percent / 100 * self.quota
        self.batch = settings.batch
        self.crash = crash
        self._raised = False

    async def check(self) -> QuotaReport:
        """Alert on a crossing, evict while over the quota; the outcome."""
        used = await asyncio.to_thread(used_bytes, self.store)
        report = QuotaReport(self.quota, used, used)
        if used >= self.mark and not self._raised:
            self._raised = True
            report.alerted = True
            self._alert(used)
        if used > self.quota:
            await self._evict(report)
        if report.used_after < self.mark:
            self._raised = False
        return report

    def _alert(self, used: int) -> None:
        percent = round(100 * used / self.quota, 1)
        log.warning("recording_quota_high", used=used, quota=self.quota, percent=percent)
        self.events.publish(
            SecurityEvent(
                HIGH_EVENT,
                Severity.HIGH,
                resource=str(self.store.root.name),
                outcome="failure",
                fields={"used_bytes": used, "quota_bytes": self.quota, "percent": percent},
                time=self.events.now(),
            )
        )

    async def _evict(self, report: QuotaReport) -> None:
        excess = report.used_before - self.quota
        freed = 0
        after: tuple[datetime, str] | None = None
        while freed < excess:
            async with self.db.sessions() as session:
                holds = await Holds.load(session)
                query = select(RecordingSegment).order_by(
                    RecordingSegment.ended_at, RecordingSegment.id
                )
                if after is not None:
                    ended, last_id = after
                    query = query.where(
                        (RecordingSegment.ended_at > ended)
                        | ((RecordingSegment.ended_at == ended) & (RecordingSegment.id > last_id))
                    )
                page = list((await session.execute(query.limit(self.batch))).scalars().all())
                if not page:
                    break
                after = (page[-1].ended_at, page[-1].id)
                chosen: dict[str, list[RecordingSegment]] = defaultdict(list)
                for row in page:
                    if freed >= excess:
                        break
                    if holds.covers(row) or not await self._here(row.id):
                        continue
                    chosen[row.recording_id].append(row)
                    freed += row.size
                runs = [run for rows in chosen.values() for run in await runs_of(session, rows)]
            for run in runs:
                await remove_run(
                    self.db, self.store, self.audit, run, reason="quota", crash=self.crash
                )
                report.evicted_segments += len(run.rows)
                report.evicted_bytes += run.size
        report.used_after = await asyncio.to_thread(used_bytes, self.store)
        if report.evicted_segments:
            await self._audit(report)

    async def _here(self, segment_id: str) -> bool:
        try:
            await self.store.size(segment_id)
        except SegmentNotFound:
            return False
        return True

    async def _audit(self, report: QuotaReport) -> None:
        async with self.db.transaction() as session:
            await self.audit.append(
                session,
                AuditEvent(
                    action=EVICT_ACTION,
                    outcome="success",
                    actor_type="system",
                    resource_type="recordings",
                    details={
                        "segments": report.evicted_segments,
                        "bytes": report.evicted_bytes,
                        "quota_bytes": report.quota,
                        "used_before": report.used_before,
                        "used_after": report.used_after,
                    },
                ),
            )
