"""Shared CLI plumbing: the config option, settings loading and friendly failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

from lensguard.errors import LensguardError
from lensguard.settings import Settings, load_settings

console = Console(soft_wrap=True, highlight=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False)


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
