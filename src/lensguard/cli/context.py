"""Shared CLI plumbing: the config option, settings loading and friendly failures.

Commands that work on the server's records go settings → audit log → database:
``settings_from`` loads the settings, ``audit_log_for`` the audit log with the kept
keys (before the event loop starts), ``database_for`` opens the database for one
``asyncio.run`` and disposes of it, ``append_success`` audits what the command did as
a system actor, and ``run_refusing`` runs the work with a refusal printed and exit 2.
``services_for`` is the same for commands that need the whole service container.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from lensguard.audit import AuditEvent, AuditLog
from lensguard.bootstrap import resolve_secrets
from lensguard.errors import ConfigurationError, LensguardError
from lensguard.identity.signing_keys import wrap_key_check
from lensguard.keyring.fields import FieldKeys
from lensguard.keyring.kept import load_purpose_keys
from lensguard.protect.subkeys import Purpose, derive
from lensguard.services import Services
from lensguard.settings import Settings, load_settings
from lensguard.store.db import Database

# No emoji codes: a certificate fingerprint like "27:CD:46" must print as written.
console = Console(soft_wrap=True, highlight=False, emoji=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)
T = TypeVar("T")


def settings_from(ctx: typer.Context, **overrides: Any) -> Settings:
    """Load settings from the ``--config`` given to the top-level command."""
    config: Path | None = (ctx.obj or {}).get("config")
    with friendly_errors():
        return load_settings(config, **overrides)
    raise AssertionError("unreachable")  # pragma: no cover - friendly_errors exits


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn configuration and validation errors into one readable line and exit 2."""
    try:
        yield
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            errors.print(f"[red]error:[/red] {where}: {err['msg']}")
        raise typer.Exit(2) from None
    except LensguardError as exc:
        errors.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn a database failure into one readable line and exit 2."""
    # The driver's message can quote SQL; name the failure and the usual fix instead.
    try:
        yield
    except SQLAlchemyError as exc:
        errors.print(
            f"[red]error:[/red] the database refused the operation ({type(exc).__name__}); "
            "is it reachable and up to date (`lensguard db upgrade`)?"
        )
        raise typer.Exit(2) from None


def audit_log_for(settings: Settings) -> AuditLog:
    """The audit log the server uses, for commands that read or append to it."""
    resolved = resolve_secrets(settings)
    if resolved.secret_key is None:
        raise ConfigurationError("secret_key is not set")
    master = resolved.secret_key.get_secret_value()
    check = wrap_key_check(derive(master, Purpose.WRAP))
    with database_errors():
        kept = load_purpose_keys(settings.database_url, master, probe=check)
    return AuditLog.from_secret(
        master,
        keys=kept,
        checkpoint_every=settings.audit.checkpoint_every,
        personal_details=settings.audit.personal_details,
    )


def field_keys_for(settings: Settings) -> FieldKeys:
    """The keys the server seals personal fields under (``keyring.fields``)."""
    resolved = resolve_secrets(settings)
    if resolved.secret_key is None:
        raise ConfigurationError("secret_key is not set")
    return FieldKeys(derive(resolved.secret_key.get_secret_value(), Purpose.WRAP))


@asynccontextmanager
async def database_for(settings: Settings) -> AsyncIterator[Database]:
    """The server's database for one command's event loop, disposed of when it ends."""
    db = Database(settings.database_url)
    try:
        yield db
    finally:
        await db.dispose()


@asynccontextmanager
async def services_for(settings: Settings) -> AsyncIterator[Services]:
    """The server's service container (database, audit log, ...), closed when it ends."""
    services = Services.build(settings)
    try:
        yield services
    finally:
        await services.close()


async def append_success(
    db: Database,
    log: AuditLog,
    action: str,
    *,
    actor: str,
    resource_type: str,
    resource_id: str,
    details: dict[str, Any],
) -> None:
    """Audit what a command did (``actor``, a system actor) in a transaction of its own."""
    async with db.transaction() as session:
        await log.append(
            session,
            AuditEvent(
                action=action,
                outcome="success",
                actor_type="system",
                actor_name=actor,
                resource_type=resource_type,
                resource_id=resource_id,
                details=details,
            ),
        )


def run_refusing(
    work: Coroutine[Any, Any, T], *, on_refusal: Callable[[], object] | None = None
) -> T:
    """Run ``work`` to the end; a database failure or a refusal prints one line and exits 2.

    ``on_refusal`` runs first on a refusal (removing a half-written file, say).
    """
    with database_errors():
        try:
            return asyncio.run(work)
        except LensguardError as exc:
            if on_refusal is not None:
                on_refusal()
            errors.print(f"[red]error:[/red] {escape(exc.detail)}")
            raise typer.Exit(2) from None
