"""``lensguard incidents``: list, read, open, move, comment, own and tick incidents.

From the server's shell, acting as ``lensguard-cli`` (audited as the system, and
acknowledging the incident like a person would). Automatic steps are run through the
API: they act on the running server's blocklist and live sessions.
"""

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
from lensguard.errors import LensguardError, NotFound
from lensguard.incidents.book import SHELL, IncidentBook
from lensguard.incidents.models import Incident, IncidentEntry
from lensguard.incidents.playbook import Playbook, load_all
from lensguard.incidents.states import BadMove, State
from lensguard.incidents.steps import DONE, statuses
from lensguard.settings import Settings
from lensguard.severity import Severity
from lensguard.store.db import Database
from lensguard.store.models import User

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
        except (BadMove, LensguardError, ValueError) as exc:
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

    async def work(book: IncidentBook) -> tuple[Incident, list[IncidentEntry], Playbook | None]:
        incident = await book.get(incident_id)
        return incident, await book.timeline(incident_id), book.playbooks.get(incident.kind)

    incident, entries, playbook = _run(ctx, work)
    head = f"{incident.title} [{incident.kind}, {incident.severity}, {incident.state}]"
    console.print(head, markup=False)
    if incident.owner_id is not None:
        console.print(f"owner {incident.owner_id}", markup=False)
    if incident.notify_by is not None:
        left = incident.notify_by - datetime.now(UTC)
        hours = abs(left.total_seconds()) / 3600
        state = f"{hours:.1f} h left" if left.total_seconds() >= 0 else f"OVERDUE by {hours:.1f} h"
        console.print(f"notify by {_when(incident.notify_by)} UTC ({state})")
    for shown in statuses(playbook, entries):
        step = shown.step
        what = f"action {step.action}" if step.automatic else step.check
        wait = f" (after {', '.join(shown.waiting_on)})" if shown.waiting_on else ""
        line = f"  [{'x' if shown.status == DONE else ' '}] {step.phase:<11} {step.id}: {what}"
        console.print(line + wait, markup=False)
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


@app.command("comment")
def comment(
    ctx: typer.Context,
    incident_id: str,
    text: Annotated[str, typer.Argument(help="The comment, for the timeline.")],
) -> None:
    """Add a comment to an incident's timeline."""

    async def work(book: IncidentBook) -> int:
        entry = await book.comment(incident_id, text, at=datetime.now(UTC), actor=SHELL)
        return entry.n

    console.print(f"entry {_run(ctx, work)} added to {incident_id}")


@app.command("own")
def own(
    ctx: typer.Context,
    incident_id: str,
    user: Annotated[
        str | None, typer.Option(help="The account (username or id) that owns it from now.")
    ] = None,
    nobody: Annotated[bool, typer.Option("--nobody", help="Leave it with no owner.")] = False,
) -> None:
    """Hand an incident to an account (--user NAME), or to nobody (--nobody)."""
    if (user is None) == (not nobody):
        errors.print("[red]error:[/red] give either --user NAME or --nobody")
        raise typer.Exit(2)

    async def work(book: IncidentBook) -> str | None:
        owner = None
        if user is not None:
            async with book.db.sessions() as session:
                found = await session.get(User, user) or await session.scalar(
                    select(User).where(User.username == user)
                )
            if found is None:
                raise NotFound(f"no account {user!r}")
            owner = found.id
        await book.take_ownership(incident_id, owner, at=datetime.now(UTC), actor=SHELL)
        return owner

    owner = _run(ctx, work)
    console.print(f"{incident_id} is owned by {owner or 'nobody'}", markup=False)


@app.command("step")
def step(
    ctx: typer.Context,
    incident_id: str,
    step_id: Annotated[str, typer.Argument(help="The checklist step's id (see show).")],
    note: Annotated[str, typer.Option(help="What was found or done, for the timeline.")] = "",
) -> None:
    """Tick a checklist step of the incident's playbook (in order: after its prerequisites).

    Automatic steps are run through the API (POST /api/v1/incidents/ID/steps/STEP): they
    act on the running server's blocklist and live sessions, which this shell cannot reach.
    """

    async def work(book: IncidentBook) -> None:
        _, action = await book.step_to_run(incident_id, step_id)
        if action is not None:
            raise ValueError(
                f"step {step_id!r} is automatic ({action}): run it through the API, "
                f"POST /api/v1/incidents/{incident_id}/steps/{step_id}"
            )
        await book.record_step(
            incident_id, step_id, status=DONE, at=datetime.now(UTC), actor=SHELL, note=note
        )

    _run(ctx, work)
    console.print(f"{step_id} done on {incident_id}", markup=False)
