"""Apply Alembic migrations programmatically (``lensguard db upgrade``, start-up, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from lensguard.store.db import prepare_sqlite_file

# The migration scripts live at the top of the source tree (``migrations/``).
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our scripts and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``. Blocking: call from a thread in async code."""
    prepare_sqlite_file(url)  # the migration engine would otherwise create it 0644
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest revision the scripts define."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
