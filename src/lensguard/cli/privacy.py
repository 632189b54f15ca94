"""``lensguard privacy``: what personal data lensguard keeps, why, where and how long."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.table import Table

from lensguard.cli.context import console, settings_from
from lensguard.privacy.inventory import encryption_status, inventory, markdown

app = typer.Typer(help="Personal data: the record of processing.", no_args_is_help=True)


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
