"""``lensguard audit``: verify the chain, export entries, write signed checkpoints."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lensguard.audit.checkpoint import export_checkpoint
from lensguard.audit.log import AuditLog
from lensguard.audit.query import query
from lensguard.audit.verify import VerifyReport
from lensguard.cli.context import (
    audit_log_for,
    console,
    database_errors,
    errors,
    friendly_errors,
    settings_from,
)
from lensguard.logs import configure_logging
from lensguard.store.db import Database

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
EXPORT_PAGE = 1000


class ExportFormat(StrEnum):
    JSONL = "jsonl"


def _usage(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _usage(f"cannot read checkpoint {path}: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise _usage(f"checkpoint {path} must hold a JSON object")
    return document


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("expected an ISO 8601 date or time", param_hint=option) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


async def _verify(
    url: str,
    log: AuditLog,
    document: dict[str, Any] | None,
    progress: Callable[[int, int], None] | None,
) -> VerifyReport:
    db = Database(url)
    try:
        return await log.verify(db, external_checkpoint=document, progress=progress)
    finally:
        await db.dispose()


def _run_verify(url: str, log: AuditLog, document: dict[str, Any] | None) -> VerifyReport:
    if not errors.is_terminal:
        return asyncio.run(_verify(url, log, document, None))
    columns = (
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as bar:
        task = bar.add_task("verify", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return asyncio.run(_verify(url, log, document, update))


def _anchored(report: VerifyReport) -> str:
    if report.anchor_seq is None:
        return ""
    signed = (
        report.anchor_ts.isoformat() if report.anchor_ts is not None else "at an unreadable time"
    )
    return (
        f" from the retention anchor at entry {report.anchor_seq:,} (signed {signed}); "
        f"entries up to {report.anchor_seq:,} were pruned by retention"
    )


@app.command("verify")
def verify(
    ctx: typer.Context,
    from_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--from-checkpoint",
            dir_okay=False,
            help="An exported checkpoint (JSON): also detects a truncated tail.",
        ),
    ] = None,
) -> None:
    """Verify every entry and checkpoint; exit 0 when intact, 1 when broken."""
    settings = settings_from(ctx)
    configure_logging("WARNING")
    document = _read_checkpoint(from_checkpoint) if from_checkpoint is not None else None
    with friendly_errors(), database_errors():
        log = audit_log_for(settings)
        try:
            report = _run_verify(settings.database_url, log, document)
        except ValueError as exc:
            raise _usage(str(exc)) from None
    anchored = _anchored(report)
    if report.ok:
        erased = f" ({report.erased:,} erased)" if report.erased else ""
        console.print(f"OK: {report.checked:,} entries verified{erased}{anchored}", markup=False)
        return
    console.print(
        f"BROKEN at entry {report.first_broken_seq}: {report.reason} "
        f"({report.checked:,} entries verified before it{anchored})",
        markup=False,
    )
    raise typer.Exit(1)


async def _export(url: str, log: AuditLog, filters: dict[str, Any]) -> int:
    db = Database(url)
    written = 0
    after: int | None = None
    try:
        while True:
            # One short transaction per page: on SQLite a transaction holds the write lock.
            async with db.transaction() as session:
                rows = await query(
                    session, after_seq=after, limit=EXPORT_PAGE, opener=log.opener(), **filters
                )
            for row in rows:
                # ensure_ascii escapes every control character: one entry, one line.
                line = json.dumps(row.to_json(), ensure_ascii=True, sort_keys=True)
                sys.stdout.write(line + "\n")
            written += len(rows)
            if len(rows) < EXPORT_PAGE:
                return written
            after = rows[-1].seq
    finally:
        sys.stdout.flush()
        await db.dispose()


@app.command("export")
def export(
    ctx: typer.Context,
    *,
    action: Annotated[
        str | None, typer.Option(help="Exact action, or a prefix ending in * (auth.*).")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Actor name or id.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601, inclusive; UTC if no zone.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601, exclusive; UTC if no zone.")] = None,
    output_format: Annotated[
        ExportFormat, typer.Option("--format", help="Output format.")
    ] = ExportFormat.JSONL,
) -> None:
    """Write matching entries to stdout as JSON Lines, in sequence order."""
    settings = settings_from(ctx)
    configure_logging("WARNING")
    filters = {
        "action": action,
        "actor": actor,
        "since": _when(since, "--since"),
        "until": _when(until, "--until"),
    }
    with friendly_errors(), database_errors():
        log = audit_log_for(settings)
        written = asyncio.run(_export(settings.database_url, log, filters))
    errors.print(f"{written:,} entries exported ({output_format.value})")


async def _checkpoint(url: str, log: AuditLog) -> dict[str, Any]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            checkpoint = await log.checkpoint(session)
        return export_checkpoint(checkpoint, log.checkpoint_public_key)
    finally:
        await db.dispose()


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option("--out", dir_okay=False, help="Write here instead of stdout."),
    ] = None,
) -> None:
    """Sign the current head and write the checkpoint document (JSON)."""
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors(), database_errors():
        document = asyncio.run(_checkpoint(settings.database_url, audit_log_for(settings)))
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _usage(f"cannot write {out}: {type(exc).__name__}") from None
    errors.print(f"checkpoint at entry {document['seq']} written to {out}", markup=False)
