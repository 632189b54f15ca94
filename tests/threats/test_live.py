"""Detection and response on the running app: real sign-ins, requests and refusals.

Each test takes a fresh documentation address (2001:db8::/32), so the Redis-backed
windows of tests running side by side never meet.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.incidents.models import Incident
from lensguard.services import Services
from lensguard.severity import Severity
from lensguard.store.users import get_user_by_username
from lensguard.threats.detection import Detection
from tests.api.conftest import Api, bearer, build_api
from tests.harness.server import strong_secret


def fresh_address() -> str:
    return f"2001:db8::{secrets.randbits(16):x}:{secrets.randbits(16):x}"


async def settled(services: Services) -> None:
    """Every queued observation judged and every detection responded to."""
    assert services.threats is not None and services.responder is not None
    assert services.incidents is not None
    await services.threats_settled()


async def responses(services: Services) -> list[dict[str, Any]]:
    async with services.db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "threats.response")
        )
        return [json.loads(row.details) for row in rows]


def seen(services: Services) -> list[Detection]:
    found: list[Detection] = []
    services.detections.subscribe(found.append, name="test")
    return found


@pytest.fixture
async def node(
    make_settings: Any, db_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Api]:
    overrides: dict[str, Any] = {"threats": {}, **getattr(request, "param", {})}
    settings = make_settings(
        database={"url": db_url}, limits={"requests_per_minute": 100_000}, **overrides
    )
    async for value in build_api(settings, address=fresh_address()):
        yield value


async def fail_logins(api: Api, count: int, username: str = "ada") -> None:
    for _ in range(count):
        response = await api.http.post(
            "/api/v1/auth/login", json={"username": username, "password": "wrong-password-1"}
        )
        assert response.status_code == 401


async def test_brute_force_blocks_the_address_and_is_audited(node: Api) -> None:
    services = node.identity
    found = seen(services)
    await fail_logins(node, 5)
    await settled(services)
    assert [d.kind for d in found] == ["brute_force"]
    address = found[0].address
    assert address is not None and await services.blocklist.is_blocked(address) is not None
    blocked = await node.http.get("/api/v1/users/me")
    assert blocked.status_code == 403
    assert blocked.headers["content-type"].startswith("application/problem+json")
    (audited,) = await responses(services)
    assert audited["kind"] == "brute_force" and audited["status"] == "applied"
    assert audited["response"] == "block_ip"
    async with services.db.sessions() as session:
        (incident,) = await session.scalars(select(Incident))
    assert (incident.kind, incident.address, incident.detections) == ("brute_force", address, 1)


@pytest.mark.parametrize(
    "node", [{"threats": {"responses": {"monitor_only": True}}}], indirect=True
)
async def test_monitor_only_records_what_it_would_do_and_does_nothing(node: Api) -> None:
    services = node.identity
    await fail_logins(node, 5)
    await settled(services)
    assert await services.blocklist.list() == []
    (audited,) = await responses(services)
    assert audited["status"] == "monitor_only" and audited["response"] == "block_ip"


@pytest.mark.parametrize(
    "node", [{"threats": {"responses": {"allow_addresses": ["2001:db8::/32"]}}}], indirect=True
)
async def test_allowlisted_addresses_are_never_acted_against(node: Api) -> None:
    services = node.identity
    await fail_logins(node, 5)
    await settled(services)
    assert await services.blocklist.list() == []
    (audited,) = await responses(services)
    assert audited["status"] == "allowlisted"


async def test_an_injection_attempt_is_refused_at_once(node: Api) -> None:
    refused = await node.http.get("/api/v1/devices", params={"q": "1' OR '1'='1' --"})
    assert refused.status_code == 400
    assert refused.json()["type"].endswith(":suspicious-request")
    assert "OR" not in refused.text  # the request is not echoed back
    await settled(node.identity)
    (audited,) = await responses(node.identity)
    assert audited["kind"] == "injection" and audited["response"] == "block_request"


@pytest.mark.parametrize(
    "node",
    [
        {
            "threats": {
                "responses": {
                    "kinds": {"injection": {"action": "block_request", "monitor_only": True}}
                }
            }
        }
    ],
    indirect=True,
)
async def test_a_monitored_injection_response_lets_the_request_through(node: Api) -> None:
    response = await node.http.get("/api/v1/devices", params={"q": "1' OR '1'='1' --"})
    assert response.status_code == 401  # on to authentication, as before


@pytest.mark.parametrize(
    "node",
    [
        {
            "threats": {
                "detectors": {"request_rate": {"per_address": 10}},
                "responses": {"throttle_per_minute": 3},
            }
        }
    ],
    indirect=True,
)
async def test_a_request_flood_is_throttled_not_blocked(node: Api) -> None:
    services = node.identity
    for _ in range(10):
        await node.http.get("/healthz")
    await settled(services)
    (entry,) = await services.blocklist.list()
    assert entry.reason == "throttle:ddos"
    statuses = [(await node.http.get("/healthz")).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]


async def test_privilege_escalation_isolates_the_account(node: Api) -> None:
    services = node.identity
    await node.add_user("root", "admin")
    token = await node.token_for("vic", "viewer")
    for _ in range(3):
        denied = await node.http.get("/api/v1/users", headers=bearer(token))
        assert denied.status_code == 403
    await settled(services)
    refused = await node.http.get("/api/v1/users/me", headers=bearer(token))
    assert refused.status_code == 401
    async with services.db.sessions() as session:
        user = await get_user_by_username(session, username="vic")
    assert user is not None and user.disabled
    audited = await responses(services)
    assert [(a["kind"], a["status"]) for a in audited] == [("privilege_escalation", "applied")]


async def test_the_last_administrator_is_never_isolated(node: Api) -> None:
    services = node.identity
    admin = await node.add_user("root", "admin")
    assert services.responder is not None
    escalation = Detection(
        kind="privilege_escalation",
        severity=Severity.CRITICAL,
        score=0.9,
        response="isolate_account",
        principal=admin,
    )
    outcome = await services.responder.respond(escalation)
    assert (outcome.status, outcome.why) == (
        "skipped",
        "the last enabled administrator is never isolated",
    )
    assert (await node.login("root"))["access_token"]


async def test_step_up_ends_every_session_of_the_account(node: Api) -> None:
    services = node.identity
    token = await node.token_for("ada", "viewer")
    assert services.responder is not None
    reuse = Detection(
        kind="token_reuse",
        severity=Severity.HIGH,
        score=0.95,
        response="step_up_mfa",
        principal="ada",
    )
    assert (await services.responder.respond(reuse)).status == "applied"
    assert (await node.http.get("/api/v1/users/me", headers=bearer(token))).status_code == 401


async def test_a_source_spread_over_two_nodes_adds_up(
    make_settings: Any, pg_url: str, redis_url: str, tmp_path: Any
) -> None:
    address = fresh_address()
    secret = strong_secret()

    def settings(name: str) -> Any:
        return make_settings(
            var_dir=str(tmp_path / name),
            secret_key=secret,
            database={"url": pg_url},
            redis={"url": redis_url},
            limits={"requests_per_minute": 100_000},
            threats={},
        )

    async for a in build_api(settings("a"), address=address):
        async for b in build_api(settings("b"), address=address):
            found_a, found_b = seen(a.identity), seen(b.identity)
            await fail_logins(a, 2)
            await fail_logins(b, 2)
            await settled(a.identity)
            await settled(b.identity)
            assert found_a == found_b == []
            await fail_logins(a, 1)
            await settled(a.identity)
            assert [d.kind for d in found_a] == ["brute_force"]
            assert await b.identity.blocklist.is_blocked(address) is not None
