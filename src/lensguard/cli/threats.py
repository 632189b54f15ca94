"""``lensguard threats``: run the detectors offline over a file of events."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from lensguard.cli.context import errors, settings_from
from lensguard.threats.engine import ThreatEngine
from lensguard.threats.replay import ReplayReport, replay
from lensguard.threats.windows import MemoryWindows

app = typer.Typer(
    help="Threat detection: replay events through the detectors (docs/threats.md).",
    no_args_is_help=True,
)
SHOWN_ERRORS = 20


def _engine(ctx: typer.Context) -> ThreatEngine:
    settings = settings_from(ctx).threats
    return ThreatEngine(
        MemoryWindows(max_keys=settings.detectors.max_keys),
        detectors=settings.detectors,
        responses=settings.responses,
    )


def _run(path: Path, engine: ThreatEngine, out: TextIO) -> ReplayReport:
    def on_error(number: int, reason: str) -> None:
        if shown[0] < SHOWN_ERRORS:
            errors.print(f"[yellow]{path}:{number}:[/yellow] skipped: {reason}")
        shown[0] += 1

    shown = [0]
    with path.open("rb") as lines:
        if not errors.is_terminal:
            return asyncio.run(replay(lines, engine, out.write, on_error=on_error))
        columns = (TextColumn("replaying"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
        with Progress(*columns, console=errors, transient=True) as bar:
            task = bar.add_task("replay", total=path.stat().st_size)

            def advance(size: int) -> None:
                bar.advance(task, size)

            return asyncio.run(
                replay(lines, engine, out.write, on_error=on_error, progress=advance)
            )


@app.command("replay")
def replay_command(
    ctx: typer.Context,
    events: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines file of events in the documented schema (docs/threats.md).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write detections here instead of standard output.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Run the live detectors over EVENTS and write one JSON line per detection.

    Each detection line names its kind, score, severity, the response it would get
    and the ids of the events that triggered it. Malformed lines are reported on
    standard error with their line number and skipped. The thresholds are the
    configured ones (`threats.detectors`).
    """
    engine = _engine(ctx)
    if output is None:
        report = _run(events, engine, sys.stdout)
    else:
        with output.open("w", encoding="utf-8") as out:
            report = _run(events, engine, out)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.kinds.items())) or "none"
    errors.print(
        f"{report.events} events, {report.detections} detections ({kinds}); "
        f"{report.malformed} malformed line(s) skipped"
    )
