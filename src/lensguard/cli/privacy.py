"""``lensguard privacy``: what personal data lensguard keeps, a subject's export, erasure."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from redis.asyncio import Redis
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from lensguard.access.policy import load_policy
from lensguard.cli import erase
from lensguard.cli.context import (
    append_success,
    audit_log_for,
    console,
    database_errors,
    database_for,
    errors,
    field_keys_for,
    run_refusing,
    settings_from,
)
from lensguard.clock import SystemClock
from lensguard.logs import configure_logging
from lensguard.privacy.export import ExportResult, write_export
from lensguard.privacy.export import Progress as Step
from lensguard.privacy.inventory import encryption_status, inventory, markdown
from lensguard.privacy.retention import DataRetention, RetentionReport
from lensguard.privacy.schedule import lease_for
from lensguard.private import open_private

app = typer.Typer(
    help="Personal data: the record of processing, a subject's export, erasure.",
    no_args_is_help=True,
)
app.add_typer(erase.app, name="erase")
CLI_ACTOR = "lensguard-cli"


@app.command("inventory")
def inventory_command(
    ctx: typer.Context,
    output: Annotated[
        Literal["text", "json", "markdown"],
        typer.Option("--format", help="text (a table), json or markdown"),
    ] = "text",
) -> None:
    """Print the record of processing (GDPR Art. 30) for these settings.

    For every table: what it holds (columns by class: personal, sensitive, public), why
    (its purpose), how long (retention), where (database, segment store, audit checkpoints
    file, var_dir, resolved from the settings) and what is encrypted at rest. It is built
    from the classification in lensguard/privacy/registry.py, which a test keeps in step
    with the schema. The JSON schema is documented in docs/privacy.md.
    """
    data = inventory(settings_from(ctx))
    if output == "json":
        console.print(json.dumps(data, indent=2), markup=False)
        return
    if output == "markdown":
        console.print(markdown(data), end="", markup=False)
        return
    where = Table(title="Where", show_lines=False)
    where.add_column("place")
    where.add_column("location")
    for place, text in data["places"].items():
        where.add_row(place, text)
    console.print(where)
    table = Table(title="Record of processing (GDPR Art. 30)", show_lines=True)
    for name in ("table", "why", "personal", "sensitive", "retention", "where", "encryption"):
        table.add_column(name, overflow="fold")
    for t in data["tables"]:
        table.add_row(
            t["table"],
            t["purpose"],
            ", ".join(c["name"] for c in t["columns"]["personal"]) or "-",
            ", ".join(c["name"] for c in t["columns"]["sensitive"]) or "-",
            t["retention"],
            ", ".join(t["where"]),
            encryption_status(t),
        )
    console.print(table)
    console.print(
        f"{len(data['not_yet_encrypted'])} personal columns not yet encrypted at rest: "
        + ", ".join(data["not_yet_encrypted"]),
        markup=False,
    )


@app.command("export")
def export_command(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The account's id or username.")],
    out: Annotated[
        Path, typer.Option("--out", dir_okay=False, help="The zip to write (created 0600).")
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    max_bytes: Annotated[
        int | None,
        typer.Option(help="Content bound in bytes (default: privacy.export_max_bytes)."),
    ] = None,
) -> None:
    """Write everything kept about one person to a zip (GDPR Art. 15 and 20).

    The zip holds manifest.json (rows, bytes and SHA-256 per file, the columns withheld),
    tables/*.jsonl (each table's rows that name the person) and audit.jsonl (entries by
    or about them); docs/privacy.md documents the schema. Audited as privacy.export.
    """
    settings = settings_from(ctx)
    if out.exists() and not force:
        errors.print(f"[red]error:[/red] {out} exists; pass --force to replace it")
        raise typer.Exit(2)
    bound = max_bytes or settings.privacy.export_max_bytes
    log = audit_log_for(settings)
    fields = field_keys_for(settings)

    async def run(step: Step | None) -> ExportResult:
        async with database_for(settings) as db:
            result = await write_export(
                db,
                log,
                user,
                out,
                max_bytes=bound,
                requested_by=CLI_ACTOR,
                now=datetime.now(UTC),
                fields=fields,
                progress=step,
            )
            rows = {f["name"]: f["rows"] for f in result.manifest["files"]}
            await append_success(
                db,
                log,
                "privacy.export",
                actor=CLI_ACTOR,
                resource_type="user",
                resource_id=result.user_id,
                details={"sha256": result.sha256, "bytes": result.size, "rows": rows},
            )
            return result

    def refused() -> None:
        out.unlink(missing_ok=True)

    open_private(out, "wb", encoding=None).close()
    if errors.is_terminal:
        columns = (SpinnerColumn(), TextColumn("{task.description}"))
        with Progress(*columns, console=errors, transient=True) as bar:
            task = bar.add_task("exporting", total=None)
            counted = {"rows": 0}

            def step(name: str, rows: int) -> None:
                counted["rows"] += rows
                bar.update(task, description=f"{name}: {counted['rows']} rows")

            result = run_refusing(run(step), on_refusal=refused)
    else:
        result = run_refusing(run(None), on_refusal=refused)
    total = sum(f["rows"] for f in result.manifest["files"])
    console.print(
        f"wrote {out}: {total} rows about {result.username} ({result.user_id}), "
        f"{result.size} bytes, sha256 {result.sha256}",
        markup=False,
    )


@app.command("retention")
def retention_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; change nothing.")
    ] = False,
) -> None:
    """Remove what is past its retention now (sessions, keys, codes, break-glass grants,
    expired revocations, old closed incidents, old audit entries behind a signed anchor)
    and name inactive accounts.

    The same job the server runs every privacy.retention.interval_seconds, under the same
    lock, so the two never run at once. Inactive accounts are named here; with
    inactive_action: disable the server disables them (it holds the live sessions).
    Audited as privacy.retention_run. docs/privacy.md, *Retention*.
    """
    settings = settings_from(ctx)
    configure_logging("WARNING")
    log = audit_log_for(settings)

    async def run() -> RetentionReport:
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        try:
            async with database_for(settings) as db:
                job = DataRetention(
                    db,
                    log,
                    load_policy(settings.security.access_control.policy_file),
                    settings.privacy.retention,
                    clock=SystemClock(),
                    lease=lease_for(redis, settings.var_dir),
                )
                return await job.run(dry_run=dry_run)
        finally:
            if redis is not None:
                await redis.aclose()

    with database_errors():
        report = asyncio.run(run())
    if report.skipped:
        errors.print(f"[yellow]skipped:[/yellow] {report.skipped}; try again later")
        raise typer.Exit(1)
    table = Table(title="Would remove" if dry_run else "Removed")
    table.add_column("class")
    table.add_column("rows", justify="right")
    for name, count in report.removed.items():
        table.add_row(name, str(count))
    console.print(table)
    if report.audit_anchor is not None:
        console.print(
            f"audit log: {'would start' if dry_run else 'starts'} after the signed retention "
            f"anchor at entry {report.audit_anchor}",
            markup=False,
        )
    if report.audit_refused is not None:
        errors.print(f"audit log not pruned further: {report.audit_refused}", markup=False)
    if report.inactive_accounts:
        names = ", ".join(report.inactive_accounts)
        console.print(
            f"inactive for {settings.privacy.retention.inactive_account_days} days: {names}",
            markup=False,
        )
    if report.review_overdue:
        console.print("an access review is due: lensguard compliance access-review")
