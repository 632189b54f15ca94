"""First-start preparation: ``var_dir``, secrets, schema and the first admin."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from lensguard.errors import Conflict
from lensguard.identity.passwords import hash_password, make_hasher, one_time_password
from lensguard.logs import get_logger
from lensguard.media.turn import check_turn_settings
from lensguard.private import open_private, private_dir, tighten_tree
from lensguard.settings import Settings, check_secrets
from lensguard.store import migrate
from lensguard.store.db import Database, is_sqlite
from lensguard.store.users import count_users, create_user

SECRET_FILE = "secret.key"  # noqa: S105 - a file name, not a secret
FIRST_ADMIN = "admin"
log = get_logger("lensguard.bootstrap")


@dataclass(frozen=True)
class FirstAdmin:
    """The account created on first start; its password is shown exactly once."""

    username: str
    password: str


def ensure_var_dir(settings: Settings) -> Path:
    """Create ``var_dir`` readable by the owner only."""
    return private_dir(settings.var_dir)


def _read_or_create_secret(path: Path) -> str:
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(48)
    with open_private(path, "x") as fh:
        fh.write(value + "\n")
    log.info("dev_secret_generated", path=str(path))
    return value


def resolve_secrets(settings: Settings) -> Settings:
    """In dev mode fill a missing secret from ``var_dir``; in production refuse weak ones."""
    if settings.is_dev and settings.secret_key is None:
        secret = _read_or_create_secret(ensure_var_dir(settings) / SECRET_FILE)
        settings = settings.model_copy(update={"secret_key": SecretStr(secret)})
    check_secrets(settings)
    check_turn_settings(settings)
    return settings


def upgrade_schema(settings: Settings) -> None:
    """Apply every pending migration."""
    if is_sqlite(settings.database_url):
        ensure_var_dir(settings)
    migrate.upgrade(settings.database_url)


async def create_first_admin(settings: Settings) -> FirstAdmin | None:
    """Create ``admin`` with a one-time password when no user exists yet; else None."""
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            if await count_users(session) > 0:
                return None
            password = one_time_password()
            hashed = await asyncio.to_thread(hash_password, make_hasher(), password)
            await create_user(
                session,
                username=FIRST_ADMIN,
                password_hash=hashed,
                role="admin",
                must_change_password=True,
            )
    except Conflict:
        return None  # another node starting beside us created it first
    finally:
        await db.dispose()
    log.info("first_admin_created", username=FIRST_ADMIN)
    return FirstAdmin(FIRST_ADMIN, password)


def prepare(settings: Settings) -> tuple[Settings, FirstAdmin | None]:
    """Everything ``serve`` needs before it listens. Blocking."""
    # Narrow what an older version (or a copy made by hand) left readable to others.
    tighten_tree(ensure_var_dir(settings))
    settings = resolve_secrets(settings)
    upgrade_schema(settings)
    return settings, asyncio.run(create_first_admin(settings))
