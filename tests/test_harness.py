"""The harness can start its own servers when none are running (as on a bare machine)."""

import asyncio
import socket
from pathlib import Path

import asyncpg
import pytest
from redis import Redis

from tests.harness import ports, services

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


def test_free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    handed = [ports.free_port() for _ in range(50)]
    assert len(set(handed)) == len(handed)
    for port in handed:
        assert ports.BAND_LOW <= port < min(low, ports.BAND_HIGH)  # never a source port
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_skipped_when_its_turn_comes_again() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        taken = ports.free_port()
        held.bind(("127.0.0.1", taken))  # UDP only: TCP alone would not be enough
        later = {ports.free_port() for _ in range(2 * 1024)}  # more than a worker's slice
    assert taken not in later
    assert len(later) > 100
