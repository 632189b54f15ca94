"""Every error status comes back as RFC 9457 problem+json without internals."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field

from lensguard.access.declare import PUBLIC
from lensguard.api.deps import requires
from lensguard.app import create_app
from lensguard.settings import Settings

LEAKY = "db password hunter2 at /srv/secret/path"


class Widget(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    size: int = Field(ge=1)


@pytest.fixture
async def problem_client(make_settings: Any, sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings: Settings = make_settings(
        database={"url": sqlite_url}, limits={"max_body_bytes": 2048, "requests_per_minute": 1000}
    )
    app = create_app(settings)

    @app.post("/test/widgets", dependencies=[requires(PUBLIC)])
    async def make_widget(widget: Widget) -> Widget:
        return widget

    @app.get("/test/crash", dependencies=[requires(PUBLIC)])
    async def crash() -> None:
        raise RuntimeError(LEAKY)

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert body["type"] == "about:blank" or body["type"].startswith("urn:lensguard:problem:")
    text = response.text
    for leak in ("Traceback", "hunter2", "/srv/secret", 'File "', "sqlalchemy"):
        assert leak not in text
    assert "content-security-policy" in response.headers
    return body


async def test_404(problem_client: httpx.AsyncClient) -> None:
    body = assert_problem(await problem_client.get("/no/such/route"), 404)
    assert body["instance"] == "/no/such/route"


async def test_405(problem_client: httpx.AsyncClient) -> None:
    response = await problem_client.delete("/healthz")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


async def test_413_declared_length(problem_client: httpx.AsyncClient) -> None:
    big = b'{"name":"' + b"x" * 4000 + b'","size":1}'
    response = await problem_client.post(
        "/test/widgets", content=big, headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 413)
    assert "2048 bytes" in body["detail"]


async def test_413_chunked_body(problem_client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    response = await problem_client.post(
        "/test/widgets", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_415(problem_client: httpx.AsyncClient) -> None:
    response = await problem_client.post(
        "/test/widgets", content=b"name=x", headers={"content-type": "text/plain"}
    )
    body = assert_problem(response, 415)
    assert "application/json" in body["detail"]


async def test_422_names_the_field_without_echoing_input(
    problem_client: httpx.AsyncClient,
) -> None:
    response = await problem_client.post("/test/widgets", json={"name": "x", "size": "hunter2"})
    body = assert_problem(response, 422)
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["body.size"]
    assert body["type"] == "urn:lensguard:problem:validation-failed"


async def test_422_malformed_json(problem_client: httpx.AsyncClient) -> None:
    response = await problem_client.post(
        "/test/widgets", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422)


async def test_500_hides_the_exception(problem_client: httpx.AsyncClient) -> None:
    body = assert_problem(await problem_client.get("/test/crash"), 500)
    assert "detail" not in body


async def test_429_with_retry_after(make_settings: Any, sqlite_url: str) -> None:
    settings = make_settings(database={"url": sqlite_url}, limits={"requests_per_minute": 3})
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
        statuses = [(await http.get("/healthz")).status_code for _ in range(3)]
        limited = await http.get("/healthz")
    assert statuses == [200, 200, 200]
    body = assert_problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "3 requests a minute" in body["detail"]


async def test_unreachable_database_is_a_503_not_a_500(make_settings: Any) -> None:
    from lensguard.store.db import Database
    from tests.harness.ports import free_port

    # Start-up needs the database (the stored keys are there); here it goes away after.
    app = create_app(make_settings())
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none"
    app.state.services.db = Database(dead)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
        response = await http.post(
            "/api/v1/auth/login", json={"username": "ada", "password": "whatever12345"}
        )
    body = assert_problem(response, 503)
    assert body["type"] == "urn:lensguard:problem:service-unavailable"


def test_a_node_whose_database_is_down_at_start_says_so(make_settings: Any) -> None:
    from lensguard.errors import ConfigurationError
    from tests.harness.ports import free_port

    port = free_port()
    dead = f"postgresql+asyncpg://postgres:hunter2-not-shown@127.0.0.1:{port}/none"
    with pytest.raises(ConfigurationError) as caught:
        create_app(make_settings(database={"url": dead}))
    message = str(caught.value)
    assert f"127.0.0.1:{port}/none cannot be reached" in message
    assert "hunter2-not-shown" not in message


async def test_405_lists_every_allowed_method(problem_client: httpx.AsyncClient) -> None:
    # Each method is its own route; Starlette's Allow named only the first one's.
    collection = await problem_client.put("/api/v1/users")
    assert_problem(collection, 405)
    assert collection.headers["allow"] == "GET, POST"
    item = await problem_client.post("/api/v1/users/0123456789abcdef")
    assert_problem(item, 405)
    assert item.headers["allow"] == "DELETE, GET, PATCH"
