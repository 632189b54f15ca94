"""Retention and the quota, every ``interval_seconds`` on the app's clock.

The retention pass runs on whichever node holds the lease (the others skip that
turn); the quota check runs on every node with a local store and a quota, since
each node's disk is its own. Turns run on the shared ``Periodic`` loop, shielded:
stopping waits for a turn in progress (whole batches, the lease released) instead of
cutting it off mid-query.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from lensguard.clock import Clock
from lensguard.logs import get_logger
from lensguard.periodic import Periodic, Scheduled
from lensguard.recordings.lease import FileLease, Lease, RedisLease
from lensguard.recordings.quota import Quota, QuotaReport
from lensguard.recordings.retention import RetentionJob, RunReport
from lensguard.recordings.store import LocalStore
from lensguard.recordings.vault import RecordingVault

log = get_logger("lensguard.recordings")


def lease_for(redis: Redis | None, var_dir: Path, ttl: int) -> Lease:
    """The cluster-wide lease with Redis, a host-wide file lock without."""
    if redis is not None:
        return RedisLease(redis, ttl=ttl)
    return FileLease(var_dir / "retention.lock")


def job_for(vault: RecordingVault, *, clock: Clock, lease: Lease) -> RetentionJob:
    """The retention job over the vault's store and index."""
    return RetentionJob(
        vault.db, vault.store, vault.audit, vault.settings.retention, clock=clock, lease=lease
    )


def quota_for(vault: RecordingVault) -> Quota | None:
    """The quota watcher, when the store is local and a quota is set."""
    settings = vault.settings.retention
    if settings.quota_bytes is None or not isinstance(vault.store, LocalStore):
        return None
    return Quota(vault.db, vault.store, vault.audit, settings, events=vault.events)


def schedule_for(
    vault: RecordingVault, *, clock: Clock, redis: Redis | None, var_dir: Path
) -> RetentionSchedule:
    """The app's schedule: retention under the cluster lease, the quota on this node."""
    settings = vault.settings.retention
    lease = lease_for(redis, var_dir, settings.lease_seconds)
    return RetentionSchedule(
        job_for(vault, clock=clock, lease=lease),
        quota_for(vault),
        clock=clock,
        interval=settings.interval_seconds,
    )


@dataclass
class Turn:
    """What one scheduled turn did."""

    retention: RunReport | None
    quota: QuotaReport | None


class RetentionSchedule(Scheduled):
    """A background task: a retention pass and a quota check every interval."""

    def __init__(
        self, job: RetentionJob, quota: Quota | None, *, clock: Clock, interval: float
    ) -> None:
        self.job, self.quota, self.clock, self.interval = job, quota, clock, interval
        self.turns: list[Turn] = []
        """The last few hundred turns."""
        self.count = 0
        """Turns taken since start."""
        self._turned = asyncio.Event()
        self._every: Periodic[Turn] = Periodic(
            self.turn, clock=clock, interval=interval, on_failure=self._failed
        )

    def _failed(self, exc: Exception) -> None:  # turn catches each part's failure itself
        log.error("recording_schedule_failed", error=type(exc).__name__)

    async def turn(self) -> Turn:
        """Run both now; a failure is logged and retried next interval."""
        report: RunReport | None = None
        checked: QuotaReport | None = None
        try:
            report = await self.job.run()
        except Exception as exc:
            log.error("recording_retention_failed", error=type(exc).__name__)
        if self.quota is not None:
            try:
                checked = await self.quota.check()
            except Exception as exc:
                log.error("recording_quota_failed", error=type(exc).__name__)
        done = Turn(report, checked)
        self.turns = [*self.turns[-255:], done]
        self.count += 1
        self._turned.set()
        return done

    async def until_turns(self, count: int) -> None:
        """Wait until ``count`` turns have been taken."""
        while self.count < count:
            self._turned.clear()
            await self._turned.wait()
