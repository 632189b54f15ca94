"""Alembic environment: runs migrations over the async engine for the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import lensguard.audit.anchors
import lensguard.audit.models
import lensguard.incidents.models
import lensguard.keyring.models
import lensguard.pki.models
import lensguard.privacy.erasure_models
import lensguard.recordings.hold_models
import lensguard.recordings.models  # noqa: F401 - registers the segment index on Base
from lensguard.store.models import Base
from lensguard.store.tls import engine_options

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migration environment")
    return str(url)


MIGRATION_LOCK = 0x6C656E73  # any constant shared by every node


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Nodes starting together must not migrate at once: the first one does, the
        # others wait for the lock and then find nothing left to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url, connect_args = engine_options(_url())
    engine = create_async_engine(url, connect_args=connect_args)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


def _run_in_fresh_loop() -> None:
    # upgrade() may be called from a thread while another loop runs elsewhere.
    asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    _run_in_fresh_loop()
