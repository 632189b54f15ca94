"""``lensguard keys``: rotate and inspect the access-token signing keys."""

from __future__ import annotations

import asyncio
from datetime import datetime

import typer

from lensguard.audit import AuditEvent, AuditLog
from lensguard.bootstrap import resolve_secrets
from lensguard.cli.context import (
    audit_log_for,
    console,
    database_errors,
    errors,
    friendly_errors,
    settings_from,
)
from lensguard.errors import ConfigurationError
from lensguard.identity.signing_keys import is_published, list_signing_keys, rotate_signing_key
from lensguard.identity.tokens import publication_window
from lensguard.logs import configure_logging
from lensguard.protect.subkeys import Purpose, derive
from lensguard.settings import Settings
from lensguard.store.db import Database
from lensguard.store.types import utcnow

app = typer.Typer(help="Manage the keys that sign access tokens.", no_args_is_help=True)


def _wrap_key(settings: Settings) -> bytes:
    settings = resolve_secrets(settings)
    if settings.secret_key is None:
        raise ConfigurationError("secret_key is not set")
    return derive(settings.secret_key.get_secret_value(), Purpose.WRAP)


async def _rotate(url: str, wrap_key: bytes, audit: AuditLog) -> str:
    db = Database(url)
    try:
        async with db.transaction() as session:
            kid = await rotate_signing_key(session, wrap_key=wrap_key)
            event = AuditEvent(
                action="keys.rotate",
                outcome="success",
                actor_type="system",
                resource_type="signing_key",
                resource_id=kid,
                details={"via": "cli"},
            )
            await audit.append(session, event)
            return kid
    finally:
        await db.dispose()


async def _list(url: str, window: int) -> list[tuple[str, datetime, datetime | None, bool]]:
    db = Database(url)
    now = utcnow()
    try:
        async with db.transaction() as session:
            rows = await list_signing_keys(session)
            return [
                (r.kid, r.created_at, r.retired_at, is_published(r, window=window, now=now))
                for r in rows
            ]
    finally:
        await db.dispose()


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


@app.command("rotate")
def rotate(ctx: typer.Context) -> None:
    """Add a new signing key; the old one keeps verifying until its tokens expire."""
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors(), database_errors():
        kid = asyncio.run(
            _rotate(settings.database_url, _wrap_key(settings), audit_log_for(settings))
        )
    window = publication_window(settings.security.authentication.token_expiry)
    console.print(kid)
    errors.print(
        f"new tokens are signed with {kid}; the previous key stays published for {window} s "
        "(servers pick the new key up within a minute)"
    )


@app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """List signing keys, newest first: kid, created, retired, published."""
    settings = settings_from(ctx)
    configure_logging("WARNING")
    window = publication_window(settings.security.authentication.token_expiry)
    with friendly_errors(), database_errors():
        rows = asyncio.run(_list(settings.database_url, window))
    console.print(f"{'KID':<18} {'CREATED':<20} {'RETIRED':<20} PUBLISHED")
    for kid, created, retired, published in rows:
        flag = "yes" if published else "no"
        console.print(f"{kid:<18} {_when(created):<20} {_when(retired):<20} {flag}")
