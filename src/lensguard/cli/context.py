"""Shared CLI plumbing: the config option, settings loading and friendly failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from lensguard.audit import AuditLog
from lensguard.bootstrap import resolve_secrets
from lensguard.errors import ConfigurationError, LensguardError
from lensguard.identity.signing_keys import wrap_key_check
from lensguard.keyring.fields import FieldKeys
from lensguard.keyring.kept import load_purpose_keys
from lensguard.protect.subkeys import Purpose, derive
from lensguard.settings import Settings, load_settings

# No emoji codes: a certificate fingerprint like "27:CD:46" must print as written.
console = Console(soft_wrap=True, highlight=False, emoji=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


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
    return AuditLog.from_secret(master, keys=kept, checkpoint_every=settings.audit.checkpoint_every)


def field_keys_for(settings: Settings) -> FieldKeys:
    """The keys the server seals personal fields under (``keyring.fields``)."""
    resolved = resolve_secrets(settings)
    if resolved.secret_key is None:
        raise ConfigurationError("secret_key is not set")
    return FieldKeys(derive(resolved.secret_key.get_secret_value(), Purpose.WRAP))
