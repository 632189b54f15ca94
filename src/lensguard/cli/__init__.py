"""The ``lensguard`` command line."""

from __future__ import annotations

from lensguard.cli.main import app


def main() -> None:
    """Entry point of the ``lensguard`` script."""
    app()


__all__ = ["app", "main"]
