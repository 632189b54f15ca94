"""``lensguard config``: inspect the effective settings."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
import yaml
from sqlalchemy.engine import make_url

from lensguard.cli.context import console, settings_from

app = typer.Typer(help="Inspect settings.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    output: Annotated[
        Literal["yaml", "json"], typer.Option("--format", help="yaml or json")
    ] = "yaml",
) -> None:
    """Print the effective settings (file + environment + defaults); secrets are masked."""
    settings = settings_from(ctx)
    data = json.loads(settings.model_dump_json())  # SecretStr dumps as '**********'
    if settings.database.url:
        data["database"]["url"] = make_url(settings.database.url).render_as_string(
            hide_password=True
        )
    if output == "json":
        console.print_json(data=data)
    else:
        console.print(yaml.safe_dump(data, sort_keys=False), end="", markup=False)
