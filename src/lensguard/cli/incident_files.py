"""``lensguard incidents attach | files | fetch``: an incident's evidence files from the shell.

The same checks, encryption and audit as the API (``incidents.attachments``), acting as
``lensguard-cli``. ``attach`` reads each file up to ``incidents.attachment_max_bytes``
and checks it by content before anything is kept; ``fetch`` writes the file 0600 and
only after it verified against its audited digest, and never over an existing file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from lensguard.audit import AuditEvent
from lensguard.bootstrap import resolve_secrets
from lensguard.cli.context import console, database_errors, errors, services_for, settings_from
from lensguard.errors import LensguardError, NotFound
from lensguard.incidents.attachment_types import AttachmentRefused
from lensguard.incidents.attachments import Attachments, AttachmentTampered, Kept, Upload
from lensguard.incidents.book import SHELL
from lensguard.incidents.models import IncidentAttachment
from lensguard.intake import IntakeError, read_capped
from lensguard.logs import configure_logging
from lensguard.services import Services

T = TypeVar("T")
FILE_MODE = 0o600


def _run(ctx: typer.Context, work: Callable[[Services, Attachments], Awaitable[T]]) -> T:
    settings = resolve_secrets(settings_from(ctx))
    configure_logging("WARNING")

    async def run() -> T:
        async with services_for(settings) as services:
            return await work(services, services.attachments)

    with database_errors():
        try:
            return asyncio.run(run())
        except (AttachmentRefused, IntakeError, LensguardError, OSError) as exc:
            errors.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
    raise AssertionError("unreachable")  # pragma: no cover - database_errors exits


def attach(
    ctx: typer.Context,
    incident_id: str,
    paths: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, readable=True, help="The evidence files."),
    ],
) -> None:
    """Keep evidence files with an incident: checked by content, stored encrypted, audited.

    Every file is checked before the first is kept, so a refused one keeps none.
    """
    limit = settings_from(ctx).incidents.attachment_max_bytes

    def checked(path: Path) -> Upload:
        hint = "split it or compress it (incidents.attachment_max_bytes)"
        content = read_capped(path, what="evidence file", max_bytes=limit, hint=hint)
        return Upload.checked(path.name, content)

    async def work(services: Services, attachments: Attachments) -> list[Kept]:
        uploads = [checked(path) for path in paths]
        kept = []
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=errors, transient=True) as bar:
            task = bar.add_task("keeping", total=len(uploads))
            for upload in uploads:
                bar.update(task, description=escape(upload.name))
                at = services.clock.now()
                kept.append(await attachments.add(incident_id, upload, at=at, actor=SHELL))
                bar.advance(task)
        return kept

    for item in _run(ctx, work):
        row = item.row
        name = escape(item.name or "")
        console.print(f"{row.id}  {name}  {row.media_type}  {row.size:,} B  {row.sha256}")


def files(ctx: typer.Context, incident_id: str) -> None:
    """List an incident's evidence files with their SHA-256."""

    async def work(_services: Services, attachments: Attachments) -> list[Kept]:
        return await attachments.listed(incident_id)

    rows = _run(ctx, work)
    if not rows:
        console.print(f"{incident_id} holds no evidence files")
        return
    table = Table("id", "name", "type", "bytes", "added (UTC)", "sha256")
    for kept in rows:
        row = kept.row
        added = row.added_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        name = escape(kept.name or "(does not open)")
        table.add_row(row.id, name, row.media_type, f"{row.size:,}", added, row.sha256)
    console.print(table)


def fetch(
    ctx: typer.Context,
    incident_id: str,
    attachment_id: str,
    out: Annotated[
        Path, typer.Option("--out", "-o", dir_okay=False, help="Where to write it (a new file).")
    ],
) -> None:
    """Write an evidence file out, verified against its audited SHA-256; audited."""

    async def work(services: Services, attachments: Attachments) -> IncidentAttachment:
        kept = await attachments.get(incident_id, attachment_id)
        if kept is None:
            raise NotFound("no such attachment")
        row = kept.row
        try:
            content = await attachments.read(row)
        except AttachmentTampered as exc:
            raise LensguardError(f"{exc}: nothing was written") from None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(out, flags, FILE_MODE)
        except FileExistsError:
            raise LensguardError(f"{out} exists already: name a new file") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        event = AuditEvent(
            action="incident.attachment_downloaded",
            outcome="success",
            actor_type="system",
            actor_name=SHELL.name,
            resource_type="incident",
            resource_id=incident_id,
            details={"attachment_id": row.id, "sha256": row.sha256, "via": "cli"},
        )
        async with services.db.transaction() as session:
            await services.audit.append(session, event)
        return row

    row = _run(ctx, work)
    console.print(f"wrote {out} ({row.size:,} bytes, sha256 {row.sha256})")


def register(group: typer.Typer) -> None:
    """Add ``attach``, ``files`` and ``fetch`` to the ``incidents`` group."""
    group.command("attach")(attach)
    group.command("files")(files)
    group.command("fetch")(fetch)
