"""The retention job: remove segments older than their class's days, legal holds aside.

A segment expires ``days`` after it ends, the days of its recording's class
(``continuous``, ``event``, ``export``; a segment with no class is ``continuous``)
on its device's site (the site's own days, else ``recordings.retention.days``).
Segments an active legal hold covers stay; expired segments on either side of
them go. Each run of removed segments is a cut recorded in the audit chain
(``trim.py``), so what is left of a recording still verifies.

Each run removes keys, then files, then rows (``trim.remove_run``), so a run killed
at any point is finished by the next. One node of a cluster runs the job at a time
(``lease.py``). Every run is audited (``recording.retention_run``) with what it
removed per class and how many held segments it kept. ``dry_run`` removes nothing
and reports what would go, per device.

Evidence bundles expire in the same run, under class ``export``, counted as
``bundles`` (``export_retention.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.clock import Clock
from lensguard.logs import get_logger
from lensguard.recordings.export_models import RecordingExport
from lensguard.recordings.export_retention import (
    EXPORT_CLASS,
    expired,
    held,
    page_of_exports,
    remove_export,
)
from lensguard.recordings.holds import Holds, all_site_days
from lensguard.recordings.lease import Lease
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.settings import CLASSES, RetentionDays, RetentionSettings
from lensguard.recordings.store import SegmentStore
from lensguard.recordings.trim import Crash, Run, remove_run, runs_of
from lensguard.store.db import Database
from lensguard.store.models import Device

log = get_logger("lensguard.recordings")
RUN_ACTION = "recording.retention_run"

Progress = Callable[[int], None]
"""Called with the number of segments or bundles just handled (removed or counted)."""


def class_of(row: RecordingSegment) -> str:
    """A segment's class: its recording's ``kind`` (rows from before kinds are ``continuous``)."""
    return row.kind if row.kind in CLASSES else "continuous"


@dataclass
class Tally:
    """Segments, evidence bundles and their stored bytes."""

    segments: int = 0
    bytes: int = 0
    bundles: int = 0

    def add(self, segments: int, size: int, *, bundles: int = 0) -> None:
        self.segments += segments
        self.bundles += bundles
        self.bytes += size


@dataclass
class DeviceTally(Tally):
    """What went (or would go) from one device, and the times it spans."""

    oldest: datetime | None = None
    newest: datetime | None = None

    def cover(self, run: Run) -> None:
        self.add(len(run.rows), run.size)
        self._span(run.rows[0].started_at, run.rows[-1].ended_at)

    def cover_bundle(self, row: RecordingExport) -> None:
        self.add(0, row.size, bundles=1)
        self._span(row.starts_at, row.ends_at)

    def _span(self, first: datetime, last: datetime) -> None:
        self.oldest = first if self.oldest is None else min(self.oldest, first)
        self.newest = last if self.newest is None else max(self.newest, last)


@dataclass
class RunReport:
    """The outcome of one retention run."""

    dry_run: bool
    started_at: datetime
    ran: bool = True
    """False when another node held the lease (nothing was looked at)."""
    removed: dict[str, Tally] = field(default_factory=lambda: {c: Tally() for c in CLASSES})
    held: Tally = field(default_factory=Tally)
    """Expired segments (and bundles) kept because a legal hold covers them."""
    devices: dict[str, DeviceTally] = field(default_factory=dict)
    cuts: int = 0

    @property
    def segments(self) -> int:
        return sum(t.segments for t in self.removed.values())

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.removed.values())

    @property
    def bundles(self) -> int:
        return self.removed[EXPORT_CLASS].bundles

    @property
    def found(self) -> bool:
        """True when anything expired (removed or kept under hold)."""
        return bool(self.segments or self.bundles or self.held.segments or self.held.bundles)

    def details(self) -> dict[str, Any]:
        """The counts for the audit entry (no device names, no times beyond the run's)."""
        removed: dict[str, dict[str, int]] = {}
        for cls, t in self.removed.items():
            removed[cls] = {"segments": t.segments, "bytes": t.bytes}
            if cls == EXPORT_CLASS:
                removed[cls]["bundles"] = t.bundles
        return {
            "removed": removed,
            "segments": self.segments,
            "bytes": self.bytes,
            "bundles": self.bundles,
            "held_skipped": self.held.segments,
            "held_bytes": self.held.bytes,
            "held_bundles": self.held.bundles,
            "devices": len(self.devices),
            "cuts": self.cuts,
        }


@dataclass
class Policy:
    """The days that apply to each device, and the holds, as of one run."""

    defaults: RetentionDays
    sites: dict[str, RetentionDays]
    device_sites: dict[str, str]
    holds: Holds

    def days(self, device_id: str, cls: str) -> int:
        site = self.device_sites.get(device_id)
        return self.sites.get(site, self.defaults).of(cls) if site else self.defaults.of(cls)

    def shortest(self) -> int:
        return min(self.shortest_of(c) for c in CLASSES)

    def shortest_of(self, cls: str) -> int:
        """The fewest days of ``cls`` anywhere (the global setting or any site's)."""
        return min(d.of(cls) for d in [self.defaults, *self.sites.values()])

    @classmethod
    async def load(cls, session: AsyncSession, defaults: RetentionDays) -> Policy:
        devices = await session.execute(select(Device.id, Device.site))
        return cls(
            defaults=defaults,
            sites=await all_site_days(session, defaults),
            device_sites={row.id: row.site for row in devices},
            holds=await Holds.load(session),
        )


class RetentionJob:
    """Finds expired segments and removes them (see the module doc)."""

    def __init__(
        self,
        db: Database,
        store: SegmentStore,
        audit: AuditLog,
        settings: RetentionSettings,
        *,
        clock: Clock,
        lease: Lease,
        crash: Crash | None = None,
    ) -> None:
        self.db, self.store, self.audit, self.settings = db, store, audit, settings
        self.clock, self.lease = clock, lease
        self.crash = crash
        """Called after each removal step (tests stop a run there)."""

    async def run(self, *, dry_run: bool = False, progress: Progress | None = None) -> RunReport:
        """One pass over the index; a dry run only counts."""
        report = RunReport(dry_run=dry_run, started_at=self.clock.now())
        if not dry_run and not await self.lease.acquire():
            report.ran = False
            return report
        try:
            await self._pass(report, progress)
            # A run that found nothing expired is logged only, not audited every interval.
            if not dry_run and report.found:
                await self._audit(report)
        finally:
            if not dry_run:
                await self.lease.release()
        log.info("recording_retention_run", dry_run=dry_run, **report.details())
        return report

    async def _pass(self, report: RunReport, progress: Progress | None) -> None:
        now = report.started_at
        async with self.db.sessions() as session:
            policy = await Policy.load(session, self.settings.days)
            oldest_cutoff = now - timedelta(days=policy.shortest())
            found = await session.execute(
                select(RecordingSegment.recording_id)
                .group_by(RecordingSegment.recording_id)
                .having(func.min(RecordingSegment.ended_at) <= oldest_cutoff)
                .order_by(RecordingSegment.recording_id)
            )
            recordings = list(found.scalars().all())
        for recording_id in recordings:
            await self._recording(recording_id, policy, now, report, progress)
        await self._exports(policy, now, report, progress)

    async def _exports(
        self, policy: Policy, now: datetime, report: RunReport, progress: Progress | None
    ) -> None:
        """Expire evidence bundles, a page at a time in id order (held ones stay)."""
        built_by = now - timedelta(days=policy.shortest_of(EXPORT_CLASS))
        after: str | None = None
        while True:
            async with self.db.sessions() as session:
                page = list(
                    await page_of_exports(
                        session, built_by=built_by, after=after, limit=self.settings.batch
                    )
                )
            if not page:
                return
            for row in page:
                if not expired(row, policy.days(row.device_id, EXPORT_CLASS), now):
                    continue
                if held(policy.holds, row):
                    report.held.add(0, row.size, bundles=1)
                    continue
                if not report.dry_run:
                    await remove_export(self.db, self.store, self.audit, row, crash=self.crash)
                report.removed[EXPORT_CLASS].add(0, row.size, bundles=1)
                report.devices.setdefault(row.device_id, DeviceTally()).cover_bundle(row)
                if progress is not None:
                    progress(1)
            after = page[-1].id
            if not report.dry_run and not await self.lease.renew():
                raise RuntimeError("the retention lease was lost; the next run carries on")

    async def _recording(
        self,
        recording_id: str,
        policy: Policy,
        now: datetime,
        report: RunReport,
        progress: Progress | None,
    ) -> None:
        after = -1
        while True:
            async with self.db.sessions() as session:
                first = await session.execute(
                    select(RecordingSegment)
                    .where(RecordingSegment.recording_id == recording_id)
                    .where(RecordingSegment.seq > after)
                    .order_by(RecordingSegment.seq)
                    .limit(self.settings.batch)
                )
                page = list(first.scalars().all())
                if not page:
                    return
                cls = class_of(page[0])
                cutoff = now - timedelta(days=policy.days(page[0].device_id, cls))
                expired = [row for row in page if row.ended_at <= cutoff]
                chosen = [row for row in expired if not policy.holds.covers(row)]
                for row in expired:
                    if policy.holds.covers(row):
                        report.held.add(1, row.size)
                runs = await runs_of(session, chosen)
            for run in runs:
                await self._remove(run, cls, report)
                if progress is not None:
                    progress(len(run.rows))
            if len(expired) < len(page):
                return  # segments end in order: the rest of the recording is younger
            after = page[-1].seq
            if not report.dry_run and not await self.lease.renew():
                raise RuntimeError("the retention lease was lost; the next run carries on")

    async def _remove(self, run: Run, cls: str, report: RunReport) -> None:
        if not report.dry_run:
            await remove_run(
                self.db, self.store, self.audit, run, reason="retention", crash=self.crash
            )
        report.removed[cls].add(len(run.rows), run.size)
        report.devices.setdefault(run.device_id, DeviceTally()).cover(run)
        report.cuts += 1

    async def _audit(self, report: RunReport) -> None:
        async with self.db.transaction() as session:
            await self.audit.append(
                session,
                AuditEvent(
                    action=RUN_ACTION,
                    outcome="success",
                    actor_type="system",
                    resource_type="recordings",
                    details=report.details(),
                ),
            )
