"""The blocklist middleware on a tiny real app: 403 for HTTP, close 1008 for WebSockets."""

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message
from starlette.websockets import WebSocket

from lensguard.guard.blocking import BlocklistMiddleware
from lensguard.guard.blocklist import Blocklist, MemoryBlocklist
from lensguard.guard.blocklist_redis import RedisBlocklist
from lensguard.guard.client import parse_networks
from lensguard.logs import configure_logging
from lensguard.monitor.metrics import Metrics
from tests.harness.ports import free_port

PROXIES = parse_networks(["10.0.0.0/8"])


async def hello(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("welcome")
    await websocket.close()


def guarded(blocklist: Blocklist, metrics: Metrics | None = None) -> BlocklistMiddleware:
    app = Starlette(routes=[Route("/hello", hello), WebSocketRoute("/ws", echo)])
    return BlocklistMiddleware(app, blocklist=blocklist, trusted_proxies=PROXIES, metrics=metrics)


async def websocket_attempt(app: ASGIApp, address: str, path: str = "/ws") -> list[Message]:
    """Open a WebSocket in-process; every message the app sent back."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "wss",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": (address, 4000),
        "server": ("testserver", 443),
        "subprotocols": [],
    }
    incoming: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def client(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4000))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


@pytest.fixture
def events() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging("WARNING", stream=io.StringIO())


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


async def test_blocked_address_gets_a_403_problem(events: io.StringIO) -> None:
    blocklist = MemoryBlocklist()
    metrics = Metrics()
    await blocklist.block("203.0.113.7", ttl=None, reason="manual")
    app = guarded(blocklist, metrics)
    async with client(app, "203.0.113.7") as blocked, client(app, "203.0.113.8") as other:
        response = await blocked.get("/hello")
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json() == {
            "type": "urn:lensguard:problem:blocked",
            "title": "Blocked",
            "status": 403,
            "detail": "requests from this address are blocked",
            "instance": "/hello",
        }
        assert (await other.get("/hello")).text == "hello"
        await blocked.get("/hello")  # a second refusal: counted, not logged again
    event = next(r for r in records(events) if r["event"] == "guard.blocked_request")
    assert event["security_event"] is True
    assert (event["client"], event["reason"], event["path"]) == ("203.0.113.7", "manual", "/hello")
    assert sum(r["event"] == "guard.blocked_request" for r in records(events)) == 1
    assert (
        metrics.registry.get_sample_value("lensguard_blocked_requests_total", {"transport": "http"})
        == 2
    )


async def test_blocked_address_websocket_is_closed_with_1008() -> None:
    blocklist = MemoryBlocklist()
    await blocklist.block("203.0.113.7", ttl=None, reason="manual")
    app = guarded(blocklist)
    refused = await websocket_attempt(app, "203.0.113.7")
    assert refused == [{"type": "websocket.close", "code": 1008, "reason": "blocked"}]
    accepted = await websocket_attempt(app, "203.0.113.8")
    assert [m["type"] for m in accepted][:2] == ["websocket.accept", "websocket.send"]
    assert accepted[1]["text"] == "welcome"


async def test_unblock_lets_the_address_back_in() -> None:
    blocklist = MemoryBlocklist()
    await blocklist.block("198.51.100.0/24", ttl=None, reason="manual")
    async with client(guarded(blocklist), "198.51.100.9") as http:
        assert (await http.get("/hello")).status_code == 403
        await blocklist.unblock("198.51.100.0/24")
        assert (await http.get("/hello")).status_code == 200


async def test_forwarded_address_counts_only_from_a_trusted_proxy() -> None:
    blocklist = MemoryBlocklist(protected=PROXIES)
    await blocklist.block("203.0.113.7", ttl=None, reason="manual")
    app = guarded(blocklist)
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    async with client(app, "10.0.0.5") as via_proxy, client(app, "192.0.2.50") as direct:
        assert (await via_proxy.get("/hello", headers=forwarded)).status_code == 403
        assert (await via_proxy.get("/hello")).status_code == 200
        # An untrusted peer cannot get someone else blocked (or itself unblocked) by header.
        assert (await direct.get("/hello", headers=forwarded)).status_code == 200
    async with client(app, "203.0.113.7") as blocked:
        spoofed = {"X-Forwarded-For": "192.0.2.1"}
        assert (await blocked.get("/hello", headers=spoofed)).status_code == 403


async def test_a_trusted_proxy_is_never_refused_even_if_listed() -> None:
    # The store refuses such blocks; this guards against one made before the proxy was
    # configured as trusted.
    blocklist = MemoryBlocklist()
    await blocklist.block("10.0.0.5", ttl=None, reason="stale")
    async with client(guarded(blocklist), "10.0.0.5") as proxy:
        assert (await proxy.get("/hello")).status_code == 200


async def test_unreachable_redis_fails_open_with_a_warning(events: io.StringIO) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        app = guarded(RedisBlocklist(dead))
        async with client(app, "203.0.113.7") as http:
            assert (await http.get("/hello")).status_code == 200
            assert (await http.get("/hello")).status_code == 200
    finally:
        await dead.aclose()
    warnings = [r for r in records(events) if r["event"] == "blocklist_store_unavailable"]
    assert len(warnings) == 1  # at most one every 30 s
    assert warnings[0]["level"] == "warning"
