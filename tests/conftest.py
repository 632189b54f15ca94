"""Suite-wide fixtures: real databases, Redis, settings and clients."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from lensguard.app import create_app
from lensguard.clock import ManualClock
from lensguard.settings import Settings, load_settings
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.harness import services
from tests.harness.server import strong_secret
from tests.harness.world import World, world_fixture

# `make test-fast` (`pytest --fast`): unit and API tests on SQLite and the embedded bus.
# Whatever needs a real PostgreSQL, Redis, a child process, aiortc media or Chromium
# (marked slow or process, or asking for those fixtures) is left to `make test`, which
# runs everything.
NEEDS_SERVICES = frozenset({"pg_admin_url", "pg_url", "redis_url", "world"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="only tests that need no PostgreSQL, Redis, child process or slow media",
    )


def needs_services(item: pytest.Item) -> bool:
    """True when ``item`` is slow or needs a service that `--fast` leaves out."""
    if any(item.get_closest_marker(name) is not None for name in ("slow", "process")):
        return True
    if NEEDS_SERVICES.intersection(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    return any(isinstance(value, str) and value == "postgres" for value in params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--fast"):
        return
    deselected = [item for item in items if needs_services(item)]
    left_out = {id(item) for item in deselected}
    kept = [item for item in items if id(item) not in left_out]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


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


async def create_pg_database(admin_url: str, template: str | None = None) -> tuple[str, str]:
    """Create a database (empty, or a copy of ``template``); return its name and URL."""
    name = f"lg_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        copy = f' TEMPLATE "{template}"' if template is not None else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
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


# Migrations run once per test process, into a template; each test gets a copy of it
# (CREATE DATABASE ... TEMPLATE, or a file copy), a fresh migrated database in a
# fraction of the time the migrations take.


@pytest.fixture(scope="session")
async def pg_template(pg_admin_url: str) -> AsyncIterator[str]:
    """A migrated PostgreSQL database nobody connects to: the copies' template."""
    name, url = await create_pg_database(pg_admin_url)
    await asyncio.to_thread(migrate.upgrade, url)
    try:
        yield name
    finally:
        await drop_pg_database(pg_admin_url, name)


@pytest.fixture
async def pg_url(pg_admin_url: str, pg_template: str) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name, url = await create_pg_database(pg_admin_url, template=pg_template)
    try:
        yield url
    finally:
        await drop_pg_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file: the copies' template."""
    path = tmp_path_factory.mktemp("sqlite-template") / "lensguard.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite database for one test."""
    path = tmp_path / "lensguard.db"
    shutil.copy2(sqlite_template, path)  # with its mode (0600)
    return f"sqlite+aiosqlite:///{path}"


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
def manual_clock() -> ManualClock:
    """A clock that moves only when the test calls ``advance`` (docs/architecture.md).

    It starts at the current whole second, so token claims (whole seconds) and stored
    datetimes (microseconds) meet the deadlines a test computes exactly.
    """
    return ManualClock(start=float(int(time.time())))


@pytest.fixture
def make_settings(tmp_path: Path) -> Any:
    """Build production-mode settings with a strong secret, overridable per test."""

    def build(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "mode": "production",
            "var_dir": str(tmp_path / "var"),
            "secret_key": strong_secret(),
            # Detection runs everywhere; automatic responses only watch, so that a test
            # walking every route as a viewer is not isolated as an escalation attempt.
            # tests/threats turns them on (a ``threats`` override replaces this).
            "threats": {"responses": {"monitor_only": True}},
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
