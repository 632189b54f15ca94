"""``/api/v1/audit`` on a real app: who may read it, filters, pages, checkpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lensguard.audit import AuditEvent, AuditLog, verify_checkpoint_signature
from lensguard.audit.prune import prune
from tests.api.conftest import Api, bearer, build_api


@pytest.fixture
async def api(make_settings: Any, sqlite_url: str) -> AsyncIterator[Api]:
    settings = make_settings(database={"url": sqlite_url}, limits={"requests_per_minute": 100_000})
    async for value in build_api(settings):
        yield value


def audit_of(api: Api) -> AuditLog:
    log: AuditLog = api.app.state.services.audit
    return log


async def add_entries(api: Api, count: int, *, action: str = "test.page") -> None:
    services = api.app.state.services
    async with services.db.transaction() as session:
        for i in range(count):
            await audit_of(api).append(
                session,
                AuditEvent(
                    action=action,
                    outcome="success",
                    actor_type="user",
                    actor_id=f"id-{i % 2}",
                    actor_name=f"person{i % 2}",
                    details={"i": i},
                ),
            )


async def test_only_audit_readers_may_read_and_only_security_managers_checkpoint(api: Api) -> None:
    viewer = bearer(await api.token_for("vera", "viewer"))
    operator = bearer(await api.token_for("otto", "operator"))
    for headers in (viewer, operator):
        for method, path in (
            ("GET", "/api/v1/audit"),
            ("GET", "/api/v1/audit/verify"),
            ("GET", "/api/v1/audit/checkpoints/latest"),
            ("POST", "/api/v1/audit/checkpoints"),
        ):
            response = await api.http.request(method, path, headers=headers)
            assert response.status_code == 403, (method, path, response.text)
    assert (await api.http.get("/api/v1/audit")).status_code == 401


async def test_filters_and_keyset_pages(api: Api) -> None:
    admin = bearer(await api.token_for("ada", "admin"))
    await add_entries(api, 7)
    await add_entries(api, 2, action="test.other")
    seen: list[int] = []
    after: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"action": "test.page", "limit": 3}
        if after is not None:
            params["after_seq"] = after
        body = (await api.http.get("/api/v1/audit", params=params, headers=admin)).json()
        seen += [item["seq"] for item in body["items"]]
        pages += 1
        after = body["next_after_seq"]
        if after is None:
            break
    assert pages == 3 and len(seen) == 7 and seen == sorted(seen)
    body = (
        await api.http.get(
            "/api/v1/audit", params={"action": "test.*", "actor": "person1"}, headers=admin
        )
    ).json()
    assert len(body["items"]) == 4 and {i["actor_name"] for i in body["items"]} == {"person1"}
    assert [item["details"]["i"] for item in body["items"]] == [1, 3, 5, 1]
    assert all(len(item["entry_hash"]) == 64 for item in body["items"])
    # Times without a zone are UTC; far-future windows are empty.
    body = (
        await api.http.get("/api/v1/audit", params={"since": "2999-01-01T00:00:00"}, headers=admin)
    ).json()
    assert body == {"items": [], "next_after_seq": None}


@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01T00:00:00+14:00"},
        {"until": "9999-12-31T23:59:59-14:00"},
        {"actor": "nul\x00byte"},
        {"since": "2026-01-01T00:00:00", "until": "2026-01-02T00:00:00Z"},
    ],
)
async def test_edge_but_valid_filters_are_answered(api: Api, params: dict[str, Any]) -> None:
    admin = bearer(await api.token_for("ada", "admin"))
    response = await api.http.get("/api/v1/audit", params=params, headers=admin)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 501},
        {"limit": 0},
        {"action": "auth.*.x*"},
        {"action": "AUTH"},
        {"after_seq": -1},
        {"nope": "1"},
    ],
)
async def test_bad_query_parameters_are_422(api: Api, params: dict[str, Any]) -> None:
    admin = bearer(await api.token_for("ada", "admin"))
    response = await api.http.get("/api/v1/audit", params=params, headers=admin)
    assert response.status_code == 422, response.text


async def test_verify_and_checkpoints(api: Api) -> None:
    admin = bearer(await api.token_for("ada", "admin"))
    none_yet = await api.http.get("/api/v1/audit/checkpoints/latest", headers=admin)
    assert none_yet.status_code == 404
    await add_entries(api, 5)
    assert (await api.http.get("/api/v1/audit/checkpoints/latest", headers=admin)).status_code in (
        200,
        404,
    )
    verified = (await api.http.get("/api/v1/audit/verify", headers=admin)).json()
    assert (
        verified["ok"] is True and verified["checked"] >= 5 and verified["first_broken_seq"] is None
    )
    created = await api.http.post("/api/v1/audit/checkpoints", headers=admin)
    assert created.status_code == 201, created.text
    document = created.json()
    assert document["seq"] >= verified["checked"]
    assert verify_checkpoint_signature(document, audit_of(api).checkpoint_public_key)
    latest = (await api.http.get("/api/v1/audit/checkpoints/latest", headers=admin)).json()
    assert latest == document


async def test_verify_names_the_retention_anchor_it_started_from(api: Api) -> None:
    admin = bearer(await api.token_for("ada", "admin"))
    await add_entries(api, 5)
    created = (await api.http.post("/api/v1/audit/checkpoints", headers=admin)).json()
    await add_entries(api, 2)
    now = datetime.now(UTC)
    services = api.app.state.services
    pruned = await prune(services.db, audit_of(api), before=now + timedelta(days=1), now=now)
    assert pruned.anchor_seq == created["seq"]
    verified = (await api.http.get("/api/v1/audit/verify", headers=admin)).json()
    assert verified["ok"] is True and verified["anchor_seq"] == created["seq"]
    assert datetime.fromisoformat(verified["anchor_ts"]) == now
