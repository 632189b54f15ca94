"""The database handle: one async engine and a session factory per app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from lensguard.private import ensure_private_file
from lensguard.store.tls import engine_options


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 driver's own transaction handling breaks SAVEPOINT (a RELEASE would
    # commit everything); take it over: autocommit at driver level, BEGIN from us.
    dbapi_connection.isolation_level = None
    # WAL lets readers run beside the one writer; busy_timeout waits instead of failing;
    # synchronous=FULL makes every acknowledged commit survive power loss.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front: two transactions can never both read a
    # row and then race to update it (single-use tokens, sequence numbers).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(url: str) -> bool:
    """True when ``url`` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def prepare_sqlite_file(url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (its default is 0644).

    SQLite gives the -wal, -shm and -journal files the database file's mode, so one
    private file keeps them all private. Existing files are narrowed to 0600 too.
    """
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return
    if name.startswith("file:") or parsed.query.get("mode") == "memory":
        return  # URI filenames name their own options; lensguard never writes them
    path = Path(name)
    if path.parent.is_dir():
        ensure_private_file(path)
        for suffix in ("-wal", "-shm", "-journal"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                ensure_private_file(side)


class Database:
    """Owns the engine; hands out sessions and transactions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if not is_sqlite(url):
            kwargs.update(pool_size=10, max_overflow=20, pool_timeout=10)
        engine_url, connect_args = engine_options(url)
        if connect_args:
            kwargs["connect_args"] = connect_args
        self.engine: AsyncEngine = create_async_engine(engine_url, **kwargs)
        if is_sqlite(url):
            prepare_sqlite_file(url)
            event.listen(self.engine.sync_engine, "connect", _sqlite_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
