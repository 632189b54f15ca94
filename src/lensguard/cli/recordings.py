"""``lensguard recordings``: check stored recordings against their index and the audit chain."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lensguard.cli.context import console, database_errors, errors, friendly_errors, settings_from
from lensguard.cli.retention import HELP as RETENTION_HELP
from lensguard.cli.retention import retention
from lensguard.logs import configure_logging
from lensguard.recordings.index import recording_ids, segment_count
from lensguard.recordings.store import LocalStore, SegmentStore, check_segment_id
from lensguard.recordings.verify import RecordingReport, verify_recording
from lensguard.store.db import Database

app = typer.Typer(
    help=(
        "Stored recordings: encrypted segments, their index and its chain.\n\n"
        "Segments live in a local directory (default `<var_dir>/recordings`) or an "
        "S3-compatible bucket (--s3-bucket; credentials from the usual AWS_* variables)."
    ),
    no_args_is_help=True,
)


def _usage(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


async def _verify_all(
    url: str,
    store: SegmentStore,
    only: list[str] | None,
    device: str | None,
    progress: Callable[[int | None, int], None] | None,
) -> list[RecordingReport]:
    db = Database(url)
    try:
        async with db.sessions() as session:
            ids = only if only is not None else await recording_ids(session, device)
            total = await segment_count(session) if only is None and device is None else None
            done = 0
            reports = []
            for recording_id in ids:

                def step(n: int) -> None:
                    nonlocal done
                    done += n
                    if progress is not None:
                        progress(total, done)

                reports.append(await verify_recording(session, store, recording_id, progress=step))
            return reports
    finally:
        await db.dispose()


def _run(
    url: str, store: SegmentStore, only: list[str] | None, device: str | None
) -> list[RecordingReport]:
    if not errors.is_terminal:
        return asyncio.run(_verify_all(url, store, only, device, None))
    columns = (TextColumn("verifying segments"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=errors, transient=True) as bar:
        task = bar.add_task("verify", total=None)

        def update(total: int | None, done: int) -> None:
            bar.update(task, completed=done, total=total)

        return asyncio.run(_verify_all(url, store, only, device, update))


@app.command("verify")
def verify(
    ctx: typer.Context,
    *,
    recording: Annotated[
        list[str] | None,
        typer.Option("--recording", help="Only this recording id (repeatable)."),
    ] = None,
    device: Annotated[str | None, typer.Option(help="Only this device's recordings.")] = None,
    path: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="Local segment directory [<var_dir>/recordings]."),
    ] = None,
    s3_bucket: Annotated[
        str | None, typer.Option(help="Read segments from this S3 bucket instead.")
    ] = None,
    s3_prefix: Annotated[str, typer.Option(help="Key prefix in the bucket.")] = "recordings/",
    s3_endpoint: Annotated[
        str | None, typer.Option(help="S3-compatible endpoint URL (MinIO, Ceph, ...).")
    ] = None,
) -> None:
    """Check every segment of every recording (or the ones named).

    Finds a segment removed, swapped or edited: in the store (its SHA-256 no longer
    matches the index), in the index (the chain of links breaks) or at the end (the
    head no longer matches the one anchored in the audit chain; check that chain with
    `lensguard audit verify`). Needs no secret: nothing is decrypted.

    Exit 0 when every recording is intact, 1 when one is not, 2 when it cannot run.
    """
    settings = settings_from(ctx)
    configure_logging("WARNING")
    try:
        only = [check_segment_id(r) for r in recording] if recording else None
    except ValueError as exc:
        raise _usage(f"--recording: {exc}") from None
    # boto3 takes a while to import: only the S3 path pays for it.
    from botocore.exceptions import BotoCoreError, ClientError

    from lensguard.recordings.s3 import S3Store

    store: SegmentStore
    with friendly_errors(), database_errors():
        try:
            if s3_bucket is not None:
                store = S3Store(bucket=s3_bucket, prefix=s3_prefix, endpoint_url=s3_endpoint)
            else:
                store = LocalStore(path or settings.var_dir / "recordings")
            reports = _run(settings.database_url, store, only, device)
        except ValueError as exc:
            raise _usage(str(exc)) from None
        except (BotoCoreError, ClientError) as exc:
            raise _usage(
                f"the segment store refused the operation ({type(exc).__name__})"
            ) from None
        except OSError as exc:
            raise _usage(f"cannot read the segment store ({type(exc).__name__})") from None
    broken = [report for report in reports if not report.ok]
    for report in broken:
        for problem in report.problems:
            where = f" segment {problem.seq}" if problem.seq is not None else ""
            console.print(
                f"BROKEN recording {report.recording_id}{where}: {problem.reason}", markup=False
            )
    segments = sum(report.segments for report in reports)
    shredded = sum(report.shredded for report in reports)
    unanchored = sum(1 for report in reports if not report.anchored)
    summary = (
        f"{len(reports):,} recordings, {segments:,} segments checked "
        f"({shredded:,} shredded, {unanchored:,} recordings not anchored yet)"
    )
    if broken:
        console.print(f"{len(broken):,} of {summary} are broken", markup=False)
        raise typer.Exit(1)
    console.print(f"OK: {summary}", markup=False)


app.command("retention", help=RETENTION_HELP)(retention)
