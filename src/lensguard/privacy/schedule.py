"""The data-retention job wired to the running server: its lease and account path."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from lensguard.access.principal import Principal, PrincipalKind
from lensguard.identity.context import IdentityContext
from lensguard.privacy.retention import DataRetention, RetentionLoop
from lensguard.recordings.lease import FileLease, Lease, RedisLease
from lensguard.threats.responses import find_user, isolate

LEASE_KEY = "lg:privacy:retention"
LOCK_FILE = "privacy-retention.lock"


def lease_for(redis: Redis | None, var_dir: Path, ttl: int = 900) -> Lease:
    """Cluster-wide with Redis, host-wide (a file lock) without."""
    if redis is not None:
        return RedisLease(redis, ttl=ttl, key=LEASE_KEY)
    return FileLease(var_dir / LOCK_FILE)


def retention_principal(ctx: IdentityContext) -> Principal:
    """The actor the audit log names for accounts the job disables."""
    return Principal(
        kind=PrincipalKind.USER,
        id="data-retention",
        name="data-retention",
        role="admin",
        permissions=frozenset(ctx.policy.permissions),
    )


def job_for(ctx: IdentityContext, *, redis: Redis | None) -> DataRetention:
    """The job on the server's database, audit log and account path."""

    async def disable(user_ids: list[str]) -> list[str]:
        done = []
        for user_id in user_ids:
            user = await find_user(ctx, user_id)
            if user is None:
                continue
            outcome = await isolate(ctx, user, by=retention_principal(ctx))
            if outcome.status == "applied":
                done.append(user_id)
        return done

    return DataRetention(
        ctx.db,
        ctx.audit,
        ctx.policy,
        ctx.settings.privacy.retention,
        clock=ctx.clock,
        lease=lease_for(redis, ctx.settings.var_dir),
        disable=disable,
    )


def loop_for(ctx: IdentityContext, *, redis: Redis | None) -> RetentionLoop | None:
    """The scheduled job (None when ``privacy.retention.enabled`` is false)."""
    settings = ctx.settings.privacy.retention
    if not settings.enabled:
        return None
    return RetentionLoop(
        job_for(ctx, redis=redis), clock=ctx.clock, interval=settings.interval_seconds
    )
