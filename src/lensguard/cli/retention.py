"""``lensguard recordings retention``: one retention run now, or a dry run that removes nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from lensguard.bootstrap import resolve_secrets
from lensguard.cli.context import (
    audit_log_for,
    console,
    database_errors,
    errors,
    friendly_errors,
    settings_from,
)
from lensguard.clock import SystemClock
from lensguard.logs import configure_logging
from lensguard.recordings.retention import RetentionJob, RunReport
from lensguard.recordings.schedule import lease_for
from lensguard.recordings.vault import store_from_settings
from lensguard.settings import Settings
from lensguard.store.db import Database

HELP = """Remove recordings older than their retention, once, now (or --dry-run).

A segment goes DAYS after it ends, the days of its class (continuous 90, event 365,
export 2555 by default: recordings.retention.days) on its device's site (a site's
own days: PUT /api/v1/sites/{site}/retention). Segments under an active legal hold
stay. Keys are deleted first (the bytes are unreadable from then on), then the
files, then the index rows; a run that is killed is finished by the next. Each run
of removed segments is recorded in the audit chain (recording.trimmed), so
`lensguard recordings verify` still passes on what is left; the run itself is
audited as recording.retention_run with counts per class.

--dry-run lists what would go per device (segments, bytes, oldest and newest) and
removes nothing. The server runs the same job every recordings.retention.interval_seconds;
only one run at a time goes ahead (a Redis lease in a cluster, a lock file
otherwise), so this command refuses while the server's run is under way.

Exit 0 when the run went ahead, 1 when another run held the lease, 2 when it cannot run.
"""


def human_bytes(count: int) -> str:
    """``1.5 GiB``-style sizes."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _stamp(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


async def _run(settings: Settings, *, dry_run: bool, bar: Progress | None) -> RunReport:
    resolved = resolve_secrets(settings)
    db = Database(settings.database_url)
    redis = None
    if settings.redis_url is not None:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
    retention = resolved.recordings.retention
    job = RetentionJob(
        db,
        store_from_settings(resolved.recordings, settings.var_dir),
        audit_log_for(settings),
        retention,
        clock=SystemClock(),
        lease=lease_for(redis, settings.var_dir, retention.lease_seconds),
    )
    task = bar.add_task("retention", total=None) if bar is not None else None

    def step(count: int) -> None:
        if bar is not None and task is not None:
            bar.advance(task, count)

    try:
        return await job.run(dry_run=dry_run, progress=step)
    finally:
        await db.dispose()
        if redis is not None:
            await redis.aclose()


def _print(report: RunReport) -> None:
    verb = "would remove" if report.dry_run else "removed"
    if report.devices:
        table = Table(
            "device",
            "segments",
            "bundles",
            "bytes",
            "oldest",
            "newest",
            title=f"{verb}, per device",
        )
        for device_id, tally in sorted(report.devices.items()):
            table.add_row(
                escape(device_id),
                f"{tally.segments:,}",
                f"{tally.bundles:,}",
                human_bytes(tally.bytes),
                _stamp(tally.oldest),
                _stamp(tally.newest),
            )
        console.print(table)
    per_class = ", ".join(
        f"{cls} {t.segments:,} ({human_bytes(t.bytes)})" for cls, t in report.removed.items()
    )
    console.print(
        f"{verb} {report.segments:,} segments, {human_bytes(report.bytes)}: {per_class}; "
        f"{report.held.segments:,} expired segments kept under legal hold; "
        f"{verb} {report.bundles:,} evidence bundles, "
        f"{report.held.bundles:,} expired bundles kept under legal hold",
        markup=False,
    )


def retention(
    ctx: typer.Context,
    *,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would go; remove nothing and take no lease."
    ),
) -> None:
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors(), database_errors():
        try:
            if errors.is_terminal:
                columns = (TextColumn("segments"), BarColumn(), MofNCompleteColumn())
                with Progress(*columns, console=errors, transient=True) as bar:
                    report = asyncio.run(_run(settings, dry_run=dry_run, bar=bar))
            else:
                report = asyncio.run(_run(settings, dry_run=dry_run, bar=None))
        except OSError as exc:
            errors.print(f"[red]error:[/red] cannot reach the segment store ({type(exc).__name__})")
            raise typer.Exit(2) from None
    if not report.ran:
        errors.print("another retention run holds the lease; nothing was done")
        raise typer.Exit(1)
    _print(report)
