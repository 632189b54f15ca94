"""Every migration goes down and up again on SQLite and PostgreSQL, keeping stream data."""

import asyncio

from alembic import command
from sqlalchemy import text

from lensguard.store import migrate
from lensguard.store.db import Database


async def test_stream_migrations_round_trip(db_url: str) -> None:
    config = migrate.alembic_config(db_url)
    database = Database(db_url)
    try:
        async with database.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO devices (id, name, site, kind, capabilities, created_at) "
                    "VALUES ('d1', 'cam-1', 'dock', 'camera', '[]', CURRENT_TIMESTAMP)"
                )
            )
            await session.execute(
                text(
                    "INSERT INTO stream_settings (device_id, ai_models, redact_faces, "
                    "resolution, bitrate, updated_at) "
                    "VALUES ('d1', '[]', true, NULL, 900000, CURRENT_TIMESTAMP)"
                )
            )
        await database.dispose()
        # Down past the break-glass tables and the optional resolution, then up again.
        await asyncio.to_thread(command.downgrade, config, "0005")
        async with database.sessions() as session:
            row = (
                await session.execute(text("SELECT resolution, bitrate FROM stream_settings"))
            ).one()
        assert tuple(row) == ("640x480", 900000)  # a NULL had to become a concrete size
        await database.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with database.sessions() as session:
            tables = {
                "site_policies": await session.execute(text("SELECT count(*) FROM site_policies")),
                "overrides": await session.execute(
                    text("SELECT count(*) FROM redaction_overrides")
                ),
            }
            assert all(result.scalar_one() == 0 for result in tables.values())
            redact = await session.execute(text("SELECT redact_faces FROM stream_settings"))
            assert bool(redact.scalar_one()) is True
    finally:
        await database.dispose()
