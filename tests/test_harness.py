"""The harness can start its own servers when none are running (as on a bare machine)."""

import asyncio

import asyncpg
import pytest
from redis import Redis

from tests.harness import services

pytestmark = pytest.mark.slow


def test_throwaway_redis_starts_and_stops() -> None:
    server = services.start_redis()
    try:
        client = Redis.from_url(server.url)
        assert client.ping() is True
        client.close()
    finally:
        server.stop()
    assert server.process is not None and server.process.poll() is not None


def test_throwaway_postgres_starts_and_stops() -> None:
    server = services.start_postgres()
    try:

        async def query() -> int:
            conn = await asyncpg.connect(server.url)
            try:
                return int(await conn.fetchval("SELECT 41 + 1"))
            finally:
                await conn.close()

        assert asyncio.run(query()) == 42
    finally:
        server.stop()
    assert server.workdir is not None and not server.workdir.exists()
