"""Migration 0021: account requests keep their rows and read as ``account``; down drops the rest."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from lensguard.store import migrate
from lensguard.store.db import Database

ACCOUNT = (
    "INSERT INTO erasure_requests (id, user_id, reason, state, requested_at) "
    "VALUES ('a1', 'u1', 'subject request 1', 'pending', CURRENT_TIMESTAMP)"
)
RECORDINGS = (
    "INSERT INTO erasure_requests (id, kind, device_id, range_start, range_end, reason, "
    "state, requested_at) VALUES ('r1', 'recordings', 'd1', CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP, 'filmed person 1', 'pending', CURRENT_TIMESTAMP)"
)


async def test_account_requests_survive_and_recordings_ones_go_down(db_url: str) -> None:
    config = migrate.alembic_config(db_url)
    database = Database(db_url)
    try:
        await asyncio.to_thread(command.downgrade, config, "0020")
        async with database.transaction() as session:
            await session.execute(text(ACCOUNT))
        await database.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with database.transaction() as session:
            row = (
                await session.execute(
                    text("SELECT kind, user_id, segments, bytes FROM erasure_requests")
                )
            ).one()
            assert tuple(row) == ("account", "u1", 0, 0)
            await session.execute(text(RECORDINGS))
        await database.dispose()
        await asyncio.to_thread(command.downgrade, config, "0020")
        async with database.sessions() as session:
            ids = (await session.execute(text("SELECT id FROM erasure_requests"))).scalars()
            assert list(ids) == ["a1"]
        await database.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await database.dispose()
