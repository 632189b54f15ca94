"""``lensguard secret``: make secrets fit for production, and move to a new one."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lensguard.bootstrap import resolve_secrets
from lensguard.cli.context import console, database_errors, errors, friendly_errors, settings_from
from lensguard.errors import ConfigurationError
from lensguard.logs import configure_logging
from lensguard.rotation.engine import (
    DEFAULT_BATCH,
    MAX_BATCH,
    Rotation,
    RotationReport,
    RotationStatus,
    count_rows,
    rotation_status,
)
from lensguard.rotation.rows import KINDS
from lensguard.settings import Settings, weakness
from lensguard.store.db import Database

app = typer.Typer(help="Generate secrets and rotate the master secret.", no_args_is_help=True)
MAX_SECRET_FILE_BYTES = 4096


@app.command("generate")
def generate() -> None:
    """Print a new random secret (64 URL-safe characters) for LENSGUARD_SECRET_KEY."""
    typer.echo(secrets.token_urlsafe(48))


def read_secret_file(path: Path, what: str) -> str:
    """The secret in ``path`` (one line); ConfigurationError naming ``what`` if unusable."""
    try:
        if path.stat().st_size > MAX_SECRET_FILE_BYTES:
            raise ConfigurationError(f"the {what} secret file is larger than a secret")
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the {what} secret file ({type(exc).__name__})"
        ) from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"the {what} secret file is not UTF-8 text") from None
    if not value or "\n" in value:
        raise ConfigurationError(f"the {what} secret file must hold one line, the secret")
    return value


def _configured(settings: Settings) -> str:
    resolved = resolve_secrets(settings)
    if resolved.secret_key is None:
        raise ConfigurationError("secret_key is not set")
    return resolved.secret_key.get_secret_value()


async def _rotate(settings: Settings, old: str, new: str, batch: int) -> RotationReport:
    db = Database(settings.database_url)
    try:
        every = settings.audit.checkpoint_every
        if not errors.is_terminal:
            return await Rotation(db, old=old, new=new, checkpoint_every=every, batch=batch).run()
        totals = await count_rows(db)
        columns = (TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeRemainingColumn(), console=errors, transient=True) as bar:
            tasks = {k.name: bar.add_task(k.label, total=totals[k.name]) for k in KINDS}

            def step(kind: str, handled: int) -> None:
                bar.advance(tasks[kind], handled)

            rotation = Rotation(
                db, old=old, new=new, checkpoint_every=every, batch=batch, progress=step
            )
            return await rotation.run()
    finally:
        await db.dispose()


async def _status(url: str, master: str) -> RotationStatus:
    db = Database(url)
    try:
        return await rotation_status(db, master)
    finally:
        await db.dispose()


def _print_status(status: RotationStatus) -> int:
    if status.state is None:
        console.print("no rotation has run: every stored secret is under the first secret")
    else:
        when = status.finished_at or status.started_at
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else "-"
        step = f", moving {status.step}" if status.step else ""
        console.print(f"last rotation: {status.state}{step} ({stamp})")
    for kind in status.kinds:
        console.print(f"  {kind.label:<20} {kind.opening:,} of {kind.total:,} open under it")
    if status.state == "running":
        console.print("a rotation is unfinished: run `lensguard secret rotate` again to finish it")
        return 1
    if status.is_target is False:
        console.print("this is NOT the secret the stored secrets were last rotated to")
        return 1
    if status.left_elsewhere:
        console.print(
            f"{status.left_elsewhere:,} stored secrets do not open under this secret "
            "(altered, or under another secret): keep any older secret until they are resolved"
        )
        return 1
    console.print("every stored secret opens under this secret: an older secret may be removed")
    return 0


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    *,
    new_secret_file: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="File holding the new secret (make one with `lensguard secret generate`).",
        ),
    ] = None,
    old_secret_file: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="File holding the old secret [the configured secret_key].",
        ),
    ] = None,
    status: Annotated[
        bool,
        typer.Option(
            "--status",
            help=(
                "Report instead: the last rotation, and how many stored secrets open under "
                "the configured secret_key (or the one in --new-secret-file)."
            ),
        ),
    ] = False,
    batch: Annotated[
        int, typer.Option(min=1, max=MAX_BATCH, help="Rows moved per transaction.")
    ] = DEFAULT_BATCH,
) -> None:
    """Move every stored secret to a new master secret (docs/secrets.md).

    Token-signing keys, TOTP seeds and recording data keys are re-wrapped under keys
    derived from the new secret; no video is re-encrypted. The keys behind API-key,
    refresh-token and recovery-code hashes and the audit chain cannot be re-wrapped
    (their data is one-way), so they are kept, stored wrapped under the new secret:
    API keys, sessions and recovery codes keep working and `lensguard audit verify`
    still passes.

    Steps: (1) stop every node; (2) `lensguard secret generate > new.key` (keep it
    0600); (3) `lensguard secret rotate --new-secret-file new.key` with the current
    secret configured as usual (or --old-secret-file); (4) set LENSGUARD_SECRET_KEY to
    the new secret on every node and start them; (5) `lensguard secret rotate --status`
    says when the old secret may be destroyed.

    A crash or kill part-way loses at most one batch: run the same command again and
    it continues where it stopped. Until it finishes no node starts. A wrong old secret
    is refused before anything changes. Secrets are read from files, never from the
    command line.

    Exit 0 when done (or, with --status, when nothing needs an older secret), 1 when
    --status finds something that does, 2 when it cannot run.
    """
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors(), database_errors():
        if status:
            master = (
                read_secret_file(new_secret_file, "new")
                if new_secret_file is not None
                else _configured(settings)
            )
            raise typer.Exit(_print_status(asyncio.run(_status(settings.database_url, master))))
        if new_secret_file is None:
            raise ConfigurationError("give the new secret with --new-secret-file")
        new = read_secret_file(new_secret_file, "new")
        reason = weakness(new)
        if reason is not None and not settings.is_dev:
            raise ConfigurationError(f"the new secret is unfit because {reason}")
        old = (
            read_secret_file(old_secret_file, "old")
            if old_secret_file is not None
            else _configured(settings)
        )
        report = asyncio.run(_rotate(settings, old, new, batch))
    if report.already_done:
        console.print("the stored secrets are under the new secret already; nothing to do")
        return
    resumed = " (resumed)" if report.resumed else ""
    console.print(f"rotation {report.rotation_id} done{resumed}: {report.moved:,} secrets moved")
    if report.unreadable:
        errors.print(
            f"{report.unreadable:,} stored secrets open under neither secret and were left "
            "as they are (altered, or under a third secret)"
        )
    errors.print(
        "set LENSGUARD_SECRET_KEY to the new secret on every node and start them; "
        "nothing stored needs the old secret any more (`lensguard secret rotate --status`)"
    )
