"""Suspicious-request detection on the real app: report, count, and block repeat offenders."""

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from lensguard.guard.blocklist import MemoryBlocklist
from lensguard.guard.detection import SuspiciousRequestMiddleware, severity_for
from lensguard.logs import configure_logging
from lensguard.monitor.metrics import Metrics
from lensguard.settings import Severity, SuspiciousRequestSettings
from lensguard.store.kv import MemoryStore, RedisStore
from tests.api.conftest import build_api
from tests.harness.ports import free_port

ATTACK = "/api/v1/users?id=1%27%20or%20%271%27%3D%271"


@pytest.fixture
def events() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging("WARNING", stream=io.StringIO())


def logged(stream: io.StringIO, event: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [r for r in records if r["event"] == event]


def same_app(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4000))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


async def test_a_suspicious_request_is_reported_counted_and_still_validated(
    make_settings: Any, sqlite_url: str, events: io.StringIO
) -> None:
    async for api in build_api(make_settings(database={"url": sqlite_url})):
        response = await api.http.get(ATTACK)
        assert response.status_code == 401  # detection never replaces the normal checks
        benign = await api.http.get("/api/v1/users?created_after=2024-05-01T10:00:00Z")
        assert benign.status_code == 401
        metrics = api.app.state.services.metrics
        assert (
            metrics.registry.get_sample_value(
                "lensguard_suspicious_requests_total", {"severity": "medium"}
            )
            == 1
        )
    [event] = logged(events, "guard.suspicious_request")
    assert event["signals"] == ["sql_injection"]
    assert (event["score"], event["severity"], event["client"]) == (60, "medium", "198.51.100.10")
    assert event["path"] == "/api/v1/users"
    assert event["query"] == "id=1%27%20or%20%271%27%3D%271"


async def test_repeat_offenders_are_blocked_and_others_are_not(
    make_settings: Any, sqlite_url: str, events: io.StringIO
) -> None:
    settings = make_settings(
        database={"url": sqlite_url},
        security={"monitoring": {"suspicious_requests": {"block_after": 3, "block_seconds": 600}}},
    )
    async for api in build_api(settings, address="203.0.113.9"):
        assert (await api.http.get(ATTACK)).status_code == 401
        assert (await api.http.get("/healthz?q=<script>alert(1)</script>")).status_code == 200
        third = await api.http.get("/healthz?f=../../etc/passwd")
        assert third.status_code == 403
        assert third.json()["type"] == "urn:lensguard:problem:blocked"
        assert (await api.http.get("/healthz")).status_code == 403
        entry = await api.app.state.services.blocklist.is_blocked("203.0.113.9")
        assert entry is not None
        assert (entry.reason, entry.expires_at - entry.created_at) == ("suspicious_requests", 600)
        async with same_app(api.app, "203.0.113.10") as other:
            assert (await other.get("/healthz")).status_code == 200
    [blocked] = logged(events, "guard.address_blocked")
    assert (blocked["target"], blocked["reason"]) == ("203.0.113.9", "suspicious_requests")


async def test_below_the_threshold_nothing_is_blocked(make_settings: Any, sqlite_url: str) -> None:
    settings = make_settings(
        database={"url": sqlite_url},
        security={"monitoring": {"suspicious_requests": {"threshold": 100, "block_after": 1}}},
    )
    async for api in build_api(settings, address="203.0.113.11"):
        for _ in range(5):
            assert (await api.http.get("/healthz?q=<script>")).status_code == 200
        assert await api.app.state.services.blocklist.list() == []


async def test_block_seconds_zero_only_reports(make_settings: Any, sqlite_url: str) -> None:
    settings = make_settings(
        database={"url": sqlite_url},
        security={"monitoring": {"suspicious_requests": {"block_after": 1, "block_seconds": 0}}},
    )
    async for api in build_api(settings, address="203.0.113.12"):
        for _ in range(3):
            assert (await api.http.get("/healthz?q=<script>")).status_code == 200
        assert await api.app.state.services.blocklist.list() == []


async def test_detection_can_be_turned_off(make_settings: Any, sqlite_url: str) -> None:
    settings = make_settings(
        database={"url": sqlite_url},
        security={"monitoring": {"suspicious_requests": {"enabled": False, "block_after": 1}}},
    )
    async for api in build_api(settings, address="203.0.113.13"):
        assert (await api.http.get("/healthz?q=<script>")).status_code == 200
        assert (await api.http.get("/healthz?q=<script>")).status_code == 200


async def test_strikes_from_two_nodes_add_up_in_cluster_mode(
    make_settings: Any, sqlite_url: str, redis_url: str
) -> None:
    address = f"2001:db8:{uuid.uuid4().hex[:4]}::9"
    settings = make_settings(
        database={"url": sqlite_url},
        redis={"url": redis_url},
        security={"monitoring": {"suspicious_requests": {"block_after": 2}}},
    )
    async for node_a in build_api(settings, address=address):
        async for node_b in build_api(settings, address=address):
            assert (await node_a.http.get("/healthz?q=<script>")).status_code == 200
            assert (await node_b.http.get("/healthz?q=<script>")).status_code == 403
            assert (await node_a.http.get("/healthz")).status_code == 403
            await node_a.app.state.services.blocklist.unblock(address)


async def hello(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def test_unreachable_strike_store_reports_but_never_blocks(events: io.StringIO) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    blocklist = MemoryBlocklist()
    app = SuspiciousRequestMiddleware(
        Starlette(routes=[Route("/hello", hello)]),
        settings=SuspiciousRequestSettings(block_after=1),
        blocklist=blocklist,
        strikes=RedisStore(dead),
        trusted_proxies=(),
        metrics=Metrics(),
    )
    try:
        async with same_app(app, "203.0.113.14") as http:
            assert (await http.get("/hello?q=<script>")).status_code == 200
            assert (await http.get("/hello?q=<script>")).status_code == 200
    finally:
        await dead.aclose()
    assert await blocklist.list() == []
    assert len(logged(events, "guard.suspicious_request")) == 2
    assert len(logged(events, "suspicion_store_unavailable")) == 1


async def test_events_from_one_address_are_sampled(events: io.StringIO) -> None:
    metrics = Metrics()
    app = SuspiciousRequestMiddleware(
        Starlette(routes=[Route("/hello", hello)]),
        settings=SuspiciousRequestSettings(block_seconds=0),
        blocklist=MemoryBlocklist(),
        strikes=MemoryStore(),
        trusted_proxies=(),
        metrics=metrics,
    )
    async with same_app(app, "203.0.113.15") as http:
        for _ in range(30):
            await http.get("/hello?q=<script>")
    assert len(logged(events, "guard.suspicious_request")) == 20
    assert (
        metrics.registry.get_sample_value(
            "lensguard_suspicious_requests_total", {"severity": "medium"}
        )
        == 30
    )


@pytest.mark.parametrize(
    ("value", "severity"),
    [(0, Severity.LOW), (49, Severity.LOW), (50, Severity.MEDIUM), (80, Severity.HIGH)],
)
def test_severity_follows_the_score(value: int, severity: Severity) -> None:
    assert severity_for(value) is severity
