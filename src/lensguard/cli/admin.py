"""``lensguard admin``: manage accounts from the server's shell."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from lensguard.cli.context import console, errors, friendly_errors, settings_from
from lensguard.identity.passwords import hash_password, make_hasher
from lensguard.identity.usernames import new_username
from lensguard.logs import configure_logging
from lensguard.store.db import Database
from lensguard.store.users import create_user

app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
MIN_PASSWORD = 12
MAX_PASSWORD = 128


async def _create(url: str, username: str, password: str, role: str) -> None:
    db = Database(url)
    try:
        hashed = await asyncio.to_thread(hash_password, make_hasher(), password)
        async with db.transaction() as session:
            # The password was typed by whoever runs this, not by the account's owner.
            await create_user(
                session,
                username=username,
                password_hash=hashed,
                role=role,
                must_change_password=True,
            )
    finally:
        await db.dispose()


@app.command("create")
def create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ -).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    role: Annotated[str, typer.Option(help="Role to grant.")] = "admin",
) -> None:
    """Create an account. The password is prompted for (twice) unless --password-stdin.

    The name is stored folded (``Ada`` becomes ``ada``); the new account must change
    its password at first sign-in.
    """
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors():
        username = new_username(username)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        errors.print(
            f"[red]error:[/red] the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )
        raise typer.Exit(2)
    with friendly_errors():
        asyncio.run(_create(settings.database_url, username, password, role))
    console.print(f"created {role} {username!r}")
