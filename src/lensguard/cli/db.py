"""``lensguard db``: schema management."""

from __future__ import annotations

import typer

from lensguard.bootstrap import upgrade_schema
from lensguard.cli.context import console, friendly_errors, settings_from
from lensguard.logs import configure_logging
from lensguard.store.migrate import head_revision

app = typer.Typer(help="Database schema: apply migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration to the configured database (safe to repeat)."""
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors():
        upgrade_schema(settings)
    console.print(f"database is at revision {head_revision()}")
