"""``lensguard secret``: make secrets fit for production."""

from __future__ import annotations

import secrets

import typer

app = typer.Typer(help="Generate secrets.", no_args_is_help=True)


@app.command("generate")
def generate() -> None:
    """Print a new random secret (64 URL-safe characters) for LENSGUARD_SECRET_KEY."""
    typer.echo(secrets.token_urlsafe(48))
