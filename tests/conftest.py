"""Suite-wide fixtures: real databases, Redis, settings and clients."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from lensguard.app import create_app
from lensguard.settings import Settings, load_settings
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.harness import services
from tests.harness.server import strong_secret
from tests.harness.world import World, world_fixture


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A PostgreSQL server we may create databases on (asyncpg DSN)."""
    with services.postgres() as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server for the session."""
    with services.redis() as server:
        yield server.url


async def create_pg_database(admin_url: str) -> tuple[str, str]:
    """Create an empty database; return (its name, its SQLAlchemy asyncpg URL)."""
    name = f"lg_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    return name, url.render_as_string(hide_password=False)


async def drop_pg_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def pg_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name, url = await create_pg_database(pg_admin_url)
    await asyncio.to_thread(migrate.upgrade, url)
    try:
        yield url
    finally:
        await drop_pg_database(pg_admin_url, name)


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite database for one test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'lensguard.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def make_settings(tmp_path: Path) -> Any:
    """Build production-mode settings with a strong secret, overridable per test."""

    def build(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "mode": "production",
            "var_dir": str(tmp_path / "var"),
            "secret_key": strong_secret(),
        }
        base.update(overrides)
        return load_settings(None, **base)

    return build


@pytest.fixture
async def settings(make_settings: Any, sqlite_url: str) -> Settings:
    result: Settings = make_settings(database={"url": sqlite_url})
    return result


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for an app built from ``settings``."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as http,
    ):
        yield http


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A real server (module-wide) with a bootstrapped admin; see tests/harness/world.py."""
    yield from world_fixture(tmp_path_factory)
