"""Brute force feeds the blocklist: an address the sign-in throttle locks is blocked everywhere."""

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from lensguard.identity.throttle import ADDRESS
from lensguard.logs import configure_logging
from tests.api.conftest import Api, build_api


@pytest.fixture
def events() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging("WARNING", stream=io.StringIO())


def random_address() -> str:
    # Cluster mode keeps throttle counters in a shared Redis: never reuse an address.
    return f"2001:db8:{uuid.uuid4().hex[:4]}::{uuid.uuid4().hex[:4]}"


async def spray(api: Api, count: int, headers: dict[str, str] | None = None) -> None:
    """Fail ``count`` sign-ins, each for another account (so no account+address lock)."""
    for i in range(count):
        response = await api.http.post(
            "/api/v1/auth/login",
            json={"username": f"nobody{i}", "password": "wrong password"},
            headers=headers or {},
        )
        assert response.status_code == 401, response.text


@pytest.mark.parametrize("mode", ["embedded", "cluster"])
async def test_address_lock_blocks_the_address_on_every_route(
    make_settings: Any, sqlite_url: str, redis_url: str, events: io.StringIO, mode: str
) -> None:
    overrides: dict[str, Any] = {"database": {"url": sqlite_url}}
    if mode == "cluster":
        overrides["redis"] = {"url": redis_url}
    address = random_address()
    async for api in build_api(make_settings(**overrides), address=address):
        await spray(api, ADDRESS.threshold - 1)
        assert (await api.http.get("/healthz")).status_code == 200
        await spray(api, 1)
        # Locked for 1 s at the threshold: the block lasts as long, on every route.
        refused = await api.http.get("/healthz")
        assert refused.status_code == 403
        assert refused.json()["type"] == "urn:lensguard:problem:blocked"
        entry = await api.app.state.services.blocklist.is_blocked(address)
        assert entry is not None
        assert (entry.reason, entry.expires_at - entry.created_at) == ("brute_force", 1)
    logged = [json.loads(line) for line in events.getvalue().splitlines() if line.startswith("{")]
    blocked = [r for r in logged if r["event"] == "guard.address_blocked"]
    assert len(blocked) == 1
    assert (blocked[0]["reason"], blocked[0]["ttl_seconds"]) == ("brute_force", 1)
    assert blocked[0]["severity"] == "high"


async def test_behind_a_trusted_proxy_the_client_is_blocked_not_the_proxy(
    make_settings: Any, sqlite_url: str
) -> None:
    settings = make_settings(
        database={"url": sqlite_url}, server={"trusted_proxies": ["10.0.0.0/8"]}
    )
    async for api in build_api(settings, address="10.0.0.5"):
        await spray(api, ADDRESS.threshold, headers={"X-Forwarded-For": "203.0.113.66"})
        blocklist = api.app.state.services.blocklist
        assert await blocklist.is_blocked("203.0.113.66") is not None
        assert await blocklist.is_blocked("10.0.0.5") is None
        behind = {"X-Forwarded-For": "203.0.113.66"}
        assert (await api.http.get("/healthz", headers=behind)).status_code == 403
        other = {"X-Forwarded-For": "198.51.100.7"}
        assert (await api.http.get("/healthz", headers=other)).status_code == 200


async def test_the_hook_can_be_turned_off(make_settings: Any, sqlite_url: str) -> None:
    settings = make_settings(
        database={"url": sqlite_url}, security={"blocklist": {"block_brute_force": False}}
    )
    async for api in build_api(settings, address="203.0.113.67"):
        await spray(api, ADDRESS.threshold)
        assert await api.app.state.services.blocklist.list() == []
        assert (await api.http.get("/healthz")).status_code == 200


async def test_the_throttle_still_locks_when_the_block_cannot_be_made(
    make_settings: Any, sqlite_url: str
) -> None:
    # Loopback is never blocked automatically (an untrusted local proxy would make every
    # client look like 127.0.0.1); the sign-in lock alone still applies.
    settings = make_settings(database={"url": sqlite_url})
    async for api in build_api(settings, address="127.0.0.1"):
        await spray(api, ADDRESS.threshold)
        assert await api.app.state.services.blocklist.list() == []
        locked = await api.http.post(
            "/api/v1/auth/login", json={"username": "nobody", "password": "wrong password"}
        )
        assert locked.status_code == 429
