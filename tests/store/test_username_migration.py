"""Migration 0009 folds existing usernames; on a collision the oldest keeps the name."""

import asyncio
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from lensguard.store import migrate
from lensguard.store.db import Database
from lensguard.store.users import create_user, get_user_by_username


def at(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=UTC)


ROWS = [
    # (id, username, created at): "admin" is older than "Admin", "ADA" older than "ada".
    ("a" * 32, "admin", at(1)),
    ("b" * 32, "Admin", at(2)),
    ("c" * 32, "ADA", at(3)),
    ("d" * 32, "ada", at(4)),
    ("e" * 32, "bob0", at(5)),
    ("f" * 32, "bobo", at(6)),
    ("0" * 32, "Ｇrace", at(7)),  # noqa: RUF001 - a full-width G, on purpose
]


async def test_usernames_fold_and_collisions_are_renamed_and_disabled(db_url: str) -> None:
    config = migrate.alembic_config(db_url)
    await asyncio.to_thread(command.downgrade, config, "0008")
    database = Database(db_url)
    try:
        async with database.transaction() as session:
            for user_id, username, created in ROWS:
                await session.execute(
                    text(
                        "INSERT INTO users (id, username, password_hash, role, disabled, "
                        "must_change_password, created_at, updated_at) VALUES "
                        "(:id, :name, 'h', 'viewer', false, false, :at, :at)"
                    ),
                    {"id": user_id, "name": username, "at": created},
                )
        await database.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with database.sessions() as session:
            result = await session.execute(
                text("SELECT id, username, username_skeleton, disabled FROM users ORDER BY id")
            )
            rows = {row[0]: (row[1], row[2], bool(row[3])) for row in result}
        assert rows == {
            "a" * 32: ("admin", "admin", False),
            "b" * 32: ("admin~bbbbbbbb", "admin~bbbbbbbb", True),
            "c" * 32: ("ada", "ada", False),
            "d" * 32: ("ada~dddddddd", "ada~dddddddd", True),
            "e" * 32: ("bob0", "bobo", False),
            "f" * 32: ("bobo", None, False),  # reads like an older name: kept, no skeleton
            "0" * 32: ("grace", "grace", False),
        }
        async with database.transaction() as session:
            assert (await get_user_by_username(session, username="ADMIN")) is not None
            user = await get_user_by_username(session, username="Ｇrace")  # noqa: RUF001
            assert user is not None and user.id == "0" * 32
            await create_user(session, username="carol", password_hash="h", role="viewer")
        await database.dispose()
        # Down again: the skeleton goes, the folded names stay.
        await asyncio.to_thread(command.downgrade, config, "0008")
        async with database.sessions() as session:
            names = await session.execute(text("SELECT username FROM users ORDER BY username"))
            assert "admin~bbbbbbbb" in [row[0] for row in names]
        await database.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await database.dispose()
