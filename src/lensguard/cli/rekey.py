"""``lensguard privacy rekey``: move the personal fields to a new data key, retire the old."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from lensguard.cli.context import (
    append_success,
    audit_log_for,
    console,
    database_errors,
    database_for,
    errors,
    field_keys_for,
    settings_from,
)
from lensguard.keyring import rekey
from lensguard.logs import configure_logging

CLI_ACTOR = "cli"


def rekey_command(
    ctx: typer.Context,
    show_status: Annotated[
        bool, typer.Option("--status", help="Say which keys are live and how far a move got.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Re-seal every personal field (e-mail, display name, phone, session addresses and
    browsers) under a new field data key, then retire the older keys for good.

    Servers may keep running: they load the new key when they meet it. A run stopped
    at any point (Ctrl-C, kill -9) loses nothing: run it again and it finishes the same
    move instead of starting another. Sessions from before field encryption are
    sealed on the way. Audited as privacy.rekey. docs/privacy.md, *Field encryption*.
    """
    settings = settings_from(ctx)
    configure_logging("WARNING")
    keys = field_keys_for(settings)

    async def current() -> dict[str, object]:
        async with database_for(settings) as db:
            return await rekey.status(db)

    if show_status:
        with database_errors():
            state = asyncio.run(current())
        if as_json:
            console.print_json(json.dumps(state))
        else:
            console.print(
                f"live data keys: {state['live_versions'] or 'none yet'}; "
                f"current: {state['current']}; rows not on it yet: {state['rows_behind']}",
                markup=False,
            )
        return
    log = audit_log_for(settings)

    async def run(progress: rekey.Progress | None) -> rekey.RekeyReport:
        async with database_for(settings) as db:
            report = await rekey.rekey(db, keys, progress=progress)
            await append_success(
                db,
                log,
                "privacy.rekey",
                actor=CLI_ACTOR,
                resource_type="field_key",
                resource_id=str(report.version),
                details={
                    "started": report.started,
                    "resealed": report.resealed,
                    "unreadable": report.unreadable,
                    "retired": report.retired,
                },
            )
            return report

    with database_errors():
        if errors.is_terminal and not as_json:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, console=errors, transient=True) as bar:
                tasks: dict[str, object] = {}

                def step(table: str, done: int, todo: int) -> None:
                    task = tasks.get(table)
                    if task is None:
                        task = tasks[table] = bar.add_task(f"re-sealing {table}", total=todo)
                    bar.update(task, completed=done, total=todo)  # type: ignore[arg-type]

                report = asyncio.run(run(step))
        else:
            report = asyncio.run(run(None))
    outcome = {
        "version": report.version,
        "started": report.started,
        "resealed": report.resealed,
        "unreadable": report.unreadable,
        "retired": report.retired,
    }
    if as_json:
        console.print_json(json.dumps(outcome))
        return
    verb = "moved to" if report.started else "finished the move to"
    rows = sum(report.resealed.values())
    console.print(
        f"{verb} field data key v{report.version}: {rows} rows re-sealed; "
        f"retired: {report.retired or 'none'}",
        markup=False,
    )
    if report.unreadable:
        errors.print(
            f"[yellow]warning:[/yellow] rows that do not open were left as they are: "
            f"{report.unreadable}"
        )
