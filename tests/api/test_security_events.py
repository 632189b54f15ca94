"""Authentication successes and failures and authorisation denials emit security events."""

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from lensguard.logs import configure_logging
from tests.api.conftest import Api, bearer


@pytest.fixture
def events() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging("WARNING", stream=io.StringIO())  # never a captured, closed stderr


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [r for r in records if r.get("security_event")]


async def test_auth_and_access_events(api: Api, events: io.StringIO) -> None:
    await api.add_user("ada", "viewer")
    await api.http.post(
        "/api/v1/auth/login", json={"username": "ada", "password": "nope nope nope"}
    )
    token = (await api.login("ada"))["access_token"]
    await api.http.get("/api/v1/users", headers=bearer(token))
    await api.http.get("/api/v1/users/me", headers=bearer("garbage"))

    found = {(e["event"], e["severity"]) for e in parsed(events)}
    assert ("auth.login_failed", "medium") in found
    assert ("auth.login_succeeded", "low") in found
    assert ("access.denied", "medium") in found
    assert ("auth.rejected", "low") in found
    denied = next(e for e in parsed(events) if e["event"] == "access.denied")
    assert denied["action"] == "user_management" and denied["role"] == "viewer"
    assert token not in events.getvalue()
    assert "nope nope nope" not in events.getvalue()
