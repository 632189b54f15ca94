"""PostgreSQL and Redis over TLS, against servers and certificates made here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text

from lensguard.bus.redis import RedisBus
from lensguard.settings import Settings
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.harness.services import Server
from tests.harness.tls import Pki, make_pki, pg_available, start_tls_postgres, start_tls_redis

pytestmark = pytest.mark.process  # starts its own PostgreSQL cluster and redis-server


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_pg(pki: Pki) -> Iterator[Server]:
    if not pg_available():
        pytest.skip("PostgreSQL binaries (initdb, postgres) are not installed")
    server = start_tls_postgres(pki)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tls_redis(pki: Pki) -> Iterator[Server]:
    server = start_tls_redis(pki)
    try:
        yield server
    finally:
        server.stop()


def _settings(
    section: str,
    url: str,
    ca: Path,
    *,
    pki: Pki | None = None,
    mode: str = "verify-full",
    host: str = "localhost",
) -> Settings:
    tls: dict[str, Any] = {"enabled": True, "mode": mode, "ca_file": str(ca)}
    if pki is not None:
        tls.update(cert_file=str(pki.client_cert), key_file=str(pki.client_key))
    return Settings.model_validate(
        {"mode": "dev", section: {"url": url.replace("localhost", host), "tls": tls}}
    )


def _reason(exc: BaseException) -> str:
    """Every message in the exception chain, for asserting on the cause."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return " | ".join(parts)


async def _query(url: str) -> int:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            value = (
                await conn.execute(
                    text("SELECT 1 + ssl::int FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                )
            ).scalar_one()
        return int(value)
    finally:
        await db.dispose()


async def test_postgres_verify_full_with_the_right_ca(tls_pg: Server, pki: Pki) -> None:
    settings = _settings("database", tls_pg.url, pki.ca)
    assert await _query(settings.database_url) == 2  # the session itself is encrypted


async def test_postgres_migrations_run_over_tls(tls_pg: Server, pki: Pki) -> None:
    url = _settings("database", tls_pg.url, pki.ca).database_url
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        assert version
    finally:
        await db.dispose()


async def test_postgres_refuses_the_wrong_ca(tls_pg: Server, pki: Pki) -> None:
    settings = _settings("database", tls_pg.url, pki.other_ca)
    with pytest.raises(Exception) as caught:
        await _query(settings.database_url)
    assert "certificate verify failed" in _reason(caught.value)


async def test_postgres_refuses_a_hostname_mismatch(tls_pg: Server, pki: Pki) -> None:
    full = _settings("database", tls_pg.url, pki.ca, host="127.0.0.1")
    with pytest.raises(Exception) as caught:
        await _query(full.database_url)
    assert "match" in _reason(caught.value).lower()
    chain_only = _settings("database", tls_pg.url, pki.ca, host="127.0.0.1", mode="verify-ca")
    assert await _query(chain_only.database_url) == 2


async def test_postgres_client_certificate(tls_pg: Server, pki: Pki) -> None:
    as_certuser = tls_pg.url.replace("postgres@", "certuser@")
    with_cert = _settings("database", as_certuser, pki.ca, pki=pki)
    # certuser has no role: past the certificate check the server says so instead.
    with pytest.raises(Exception) as caught:
        await _query(with_cert.database_url)
    assert 'role "certuser" does not exist' in _reason(caught.value)
    without = _settings("database", as_certuser, pki.ca)
    with pytest.raises(Exception) as refused:
        await _query(without.database_url)
    assert "certificate" in _reason(refused.value).lower()
    assert await _query(_settings("database", tls_pg.url, pki.ca, pki=pki).database_url) == 2


async def _ping(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=5)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


async def test_redis_ping_and_bus_round_trip(tls_redis: Server, pki: Pki) -> None:
    url = _settings("redis", tls_redis.url, pki.ca, pki=pki).redis_url
    assert url is not None and url.startswith("rediss://")
    assert await _ping(url)
    client = Redis.from_url(url)
    bus = RedisBus(client)
    try:
        subscription = await bus.subscribe("tls")
        try:
            assert await bus.publish("tls", {"hello": "over tls"}) == 1
            async for message in subscription:
                assert message == {"hello": "over tls"}
                break
        finally:
            await subscription.close()
    finally:
        await bus.close()
        await client.aclose()


async def test_redis_refuses_the_wrong_ca(tls_redis: Server, pki: Pki) -> None:
    url = _settings("redis", tls_redis.url, pki.other_ca, pki=pki).redis_url
    assert url is not None
    with pytest.raises(Exception) as caught:
        await _ping(url)
    assert "certificate verify failed" in _reason(caught.value)


async def test_redis_refuses_a_hostname_mismatch(tls_redis: Server, pki: Pki) -> None:
    url = _settings("redis", tls_redis.url, pki.ca, pki=pki, host="127.0.0.1").redis_url
    assert url is not None
    with pytest.raises(Exception) as caught:
        await _ping(url)
    assert "match" in _reason(caught.value).lower()


async def test_redis_requires_the_client_certificate(tls_redis: Server, pki: Pki) -> None:
    url = _settings("redis", tls_redis.url, pki.ca).redis_url
    assert url is not None
    with pytest.raises(RedisConnectionError):  # the server ends the handshake
        await _ping(url)
