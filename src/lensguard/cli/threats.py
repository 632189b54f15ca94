"""``lensguard threats``: run the detectors offline over a file of events."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
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
from lensguard.incidents.playbook import PlaybookError, load_all
from lensguard.settings import Settings
from lensguard.store.db import Database
from lensguard.threats.engine import ThreatEngine, build_rules
from lensguard.threats.model import AnomalyModel, ModelError
from lensguard.threats.observation import Observation
from lensguard.threats.replay import ReplayReport, replay
from lensguard.threats.rules_model import Anomaly
from lensguard.threats.training import (
    audit_observations,
    file_observations,
    load_model,
    model_key,
    model_path,
    rows_of,
)
from lensguard.threats.windows import MemoryWindows

app = typer.Typer(
    help="Threat detection: train the anomaly model, replay events, check playbooks "
    "(docs/threats.md).",
    no_args_is_help=True,
)
SHOWN_ERRORS = 20


def _resolved(ctx: typer.Context) -> Settings:
    with friendly_errors():
        return resolve_secrets(settings_from(ctx))
    raise AssertionError("unreachable")  # pragma: no cover - friendly_errors exits


def _engine(ctx: typer.Context, *, with_model: bool) -> ThreatEngine:
    settings = _resolved(ctx) if with_model else settings_from(ctx)
    threats = settings.threats
    rules: list[Any] = build_rules(threats.detectors)
    if with_model and settings.secret_key is not None:
        model = load_model(settings.var_dir, threats.model, settings.secret_key.get_secret_value())
        if model is not None:
            rules.append(Anomaly(model, threshold=threats.model.threshold, in_thread=False))
            errors.print(f"with the anomaly model ({model.trained.rows} training windows)")
    return ThreatEngine(
        MemoryWindows(max_keys=threats.detectors.max_keys),
        detectors=threats.detectors,
        responses=threats.responses,
        rules=rules,
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
    model: Annotated[
        bool,
        typer.Option(
            "--model/--no-model",
            help="Also score feature windows with the trained anomaly model, if there is one.",
        ),
    ] = True,
) -> None:
    """Run the live detectors over EVENTS and write one JSON line per detection.

    Each detection line names its kind, score, severity, the response it would get
    and the ids of the events that triggered it. Malformed lines are reported on
    standard error with their line number and skipped. The thresholds are the
    configured ones (`threats.detectors`).
    """
    engine = _engine(ctx, with_model=model)
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


SPANS = {"m": 60, "h": 3_600, "d": 86_400}


def _span(text: str) -> timedelta:
    number, unit = text[:-1], text[-1:]
    if unit not in SPANS or not number.isdigit() or not 0 < int(number) <= 100_000:
        raise typer.BadParameter("write a count and a unit: 90m, 12h or 30d")
    return timedelta(seconds=int(number) * SPANS[unit])


def _observed(
    settings: Settings, since: timedelta, events: Path | None, bar: Progress | None
) -> list[Observation]:
    found: list[Observation] = []
    task = bar.add_task("reading", total=None) if bar is not None else None
    if events is not None:

        def skipped(number: int, reason: str) -> None:
            errors.print(f"[yellow]{events}:{number}:[/yellow] skipped: {reason}")

        with events.open("rb") as lines:
            for observation in file_observations(lines, skipped):
                found.append(observation)
                if bar is not None and task is not None and len(found) % 1000 == 0:
                    bar.update(task, completed=len(found))
        return found

    opener = audit_log_for(settings).opener()  # sealed source addresses

    async def read() -> None:
        db = Database(settings.database_url)
        try:
            async for observation in audit_observations(db, datetime.now(UTC) - since, opener):
                found.append(observation)
                if bar is not None and task is not None and len(found) % 1000 == 0:
                    bar.update(task, completed=len(found))
        finally:
            await db.dispose()

    with database_errors():
        asyncio.run(read())
    return found


@app.command("train")
def train(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option(help="How much audit history to learn from: 90m, 12h, 30d.")
    ] = "30d",
    events: Annotated[
        Path | None,
        typer.Option(
            help="Learn from this JSON Lines file of events instead of the audit log.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Fit the anomaly model's baseline from history and store it, signed, in var_dir.

    The history should be ordinary use: windows like it score about 0.5, windows unlike
    it towards 1 (`threats.model.threshold` decides which are detections). The file
    names its feature schema, window length and training range; the server refuses a
    file it did not sign. Restart the server to use a new model.
    """
    span = _span(since)
    settings = _resolved(ctx)
    if settings.secret_key is None:
        errors.print("[red]error:[/red] secret_key is not set; the model file is signed with it")
        raise typer.Exit(2)
    model_settings = settings.threats.model
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}"))
    with Progress(*columns, console=errors, transient=True, disable=not errors.is_terminal) as bar:
        observed = _observed(settings, span, events, bar)
        bar.add_task("fitting", total=None)
        rows = rows_of(observed, model_settings.window_seconds)
        try:
            fitted = AnomalyModel.fit(
                rows, window_seconds=model_settings.window_seconds, trees=model_settings.trees
            )
        except ModelError as exc:
            errors.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    path = model_path(settings.var_dir, model_settings)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    fitted.save(path, model_key(settings.secret_key.get_secret_value()))
    first = datetime.fromtimestamp(fitted.trained.trained_from, UTC)
    last = datetime.fromtimestamp(fitted.trained.trained_to, UTC)
    console.print(
        f"trained on {len(observed):,} events in {len(rows):,} windows "
        f"({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC); wrote {path}"
    )


@app.command("playbooks")
def playbooks(
    ctx: typer.Context,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Check this folder of playbooks (default: incidents.playbook_dir).",
            file_okay=False,
            exists=True,
        ),
    ] = None,
) -> None:
    """Check and list the incident playbooks: the shipped ones and your folder's.

    A playbook with an unknown step, phase or key, or a cycle through `after`, is
    reported with its file and line and the command exits 2.
    """
    chosen = folder if folder is not None else settings_from(ctx).incidents.playbook_dir
    try:
        found = load_all(chosen)
    except PlaybookError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    table = Table(title=f"Playbooks ({len(found)})")
    for name in ("kind", "severity", "answers", "steps", "automatic", "deadline", "file"):
        table.add_column(name)
    for kind, book in sorted(found.items()):
        automatic = sum(step.automatic for step in book.steps)
        deadline = f"{book.notify_within_hours} h" if book.notify_within_hours else ""
        table.add_row(
            kind,
            book.severity.value,
            ", ".join(book.detections),
            str(len(book.steps)),
            str(automatic),
            deadline,
            Path(book.source).name,
        )
    console.print(table)
