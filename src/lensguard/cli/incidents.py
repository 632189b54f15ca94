"""``lensguard incidents``: list, read, open and move incidents from the server's shell."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from lensguard.cli.context import audit_log_for, console, database_errors, errors, settings_from
from lensguard.incidents.book import SHELL, IncidentBook
from lensguard.incidents.models import Incident, IncidentEntry
from lensguard.incidents.playbook import load_all
from lensguard.incidents.states import BadMove, State
from lensguard.settings import Settings
from lensguard.severity import Severity
from lensguard.store.db import Database

app = typer.Typer(
    help="Incidents: list, read, open by hand, move along the flow, comment (docs/threats.md).",
    no_args_is_help=True,
)
T = TypeVar("T")


def _run(ctx: typer.Context, work: Callable[[IncidentBook], Awaitable[T]]) -> T:
    settings: Settings = settings_from(ctx)

    async def run() -> T:
        db = Database(settings.database_url)
        try:
            book = IncidentBook(
                db, audit_log_for(settings), load_all(settings.incidents.playbook_dir)
            )
            return await work(book)
        finally:
            await db.dispose()

    with database_errors():
        try:
            return asyncio.run(run())
        except (BadMove, LookupError, ValueError) as exc:
            errors.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    raise AssertionError("unreachable")  # pragma: no cover - database_errors exits


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


@app.command("list")
def list_incidents(
    ctx: typer.Context,
    every: Annotated[
        bool, typer.Option("--all", help="Closed ones and false positives too.")
    ] = False,
) -> None:
    """Running incidents, newest first (with --all: every incident)."""

    async def work(book: IncidentBook) -> list[Incident]:
        query = select(Incident).order_by(Incident.last_seen_at.desc()).limit(500)
        if not every:
            query = query.where(Incident.state.not_in(["closed", "false_positive"]))
        async with book.db.sessions() as session:
            return list(await session.scalars(query))

    found = _run(ctx, work)
    table = Table(title=f"Incidents ({len(found)})")
    for name in ("id", "kind", "severity", "state", "source", "detections", "opened", "notify by"):
        table.add_column(name)
    for i in found:
        source = escape(" / ".join(x for x in (i.address, i.principal) if x))  # attacker text
        table.add_row(
            i.id,
            i.kind,
            i.severity,
            i.state,
            source,
            str(i.detections),
            _when(i.opened_at),
            _when(i.notify_by),
        )
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, incident_id: str) -> None:
    """One incident with its timeline."""

    async def work(book: IncidentBook) -> tuple[Incident, list[IncidentEntry]]:
        async with book.db.sessions() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None:
            raise LookupError("no such incident")
        return incident, await book.timeline(incident_id)

    incident, entries = _run(ctx, work)
    head = f"{incident.title} [{incident.kind}, {incident.severity}, {incident.state}]"
    console.print(head, markup=False)
    if incident.notify_by is not None:
        console.print(f"notify by {_when(incident.notify_by)} UTC")
    for entry in entries:
        console.print(f"{_when(entry.at)}  {entry.kind:<9} {json.loads(entry.body)}", markup=False)


@app.command("open")
def open_incident(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="A playbook's kind, or unclassified.")],
    title: Annotated[str, typer.Argument(help="What happened, in a line.")],
    severity: Annotated[
        Severity, typer.Option(help="low, medium, high or critical.")
    ] = Severity.HIGH,
) -> None:
    """Open an incident by hand (audited, actor: the system, via the CLI)."""

    async def work(book: IncidentBook) -> Incident:
        return await book.open(
            kind=kind, title=title, severity=severity, at=datetime.now(UTC), actor=SHELL
        )

    console.print(f"opened {_run(ctx, work).id}")


@app.command("move")
def move_incident(
    ctx: typer.Context,
    incident_id: str,
    state: Annotated[State, typer.Argument(help="The state to move to.")],
    note: Annotated[str, typer.Option(help="Why, for the timeline.")] = "",
) -> None:
    """Move an incident along open → triaged → contained → eradicated → recovered → closed."""

    async def work(book: IncidentBook) -> Incident:
        return await book.change_state(
            incident_id, state, at=datetime.now(UTC), actor=SHELL, note=note
        )

    console.print(f"{incident_id} is now {_run(ctx, work).state}")
