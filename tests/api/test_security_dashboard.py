"""The security dashboard's figures: counted from the audit log and incidents, by bucket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from lensguard.clock import ManualClock
from tests.api.conftest import Api, bearer, build_api

DASHBOARD = "/api/v1/security/dashboard"
LOUD = "203.0.113.7"
QUIET = "203.0.113.8"
WRONG = "not the password at all"  # pragma: allowlist secret


@pytest.fixture
async def api(make_settings: Any, db_url: str, manual_clock: ManualClock) -> AsyncIterator[Api]:
    settings = make_settings(
        database={"url": db_url},
        server={"trusted_proxies": ["10.0.0.0/8"]},
        limits={"requests_per_minute": 100_000},
    )
    async for value in build_api(settings, address="10.0.0.5", clock=manual_clock):
        yield value


async def fail_login(api: Api, address: str) -> None:
    answer = await api.http.post(
        "/api/v1/auth/login",
        json={"username": "nobody-here", "password": WRONG},
        headers={"X-Forwarded-For": address},
    )
    assert answer.status_code == 401, answer.text


async def read(api: Api, token: str, **params: Any) -> dict[str, Any]:
    answer = await api.http.get(DASHBOARD, headers=bearer(token), params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def bucket_of(body: dict[str, Any], at: datetime) -> dict[str, int]:
    """The bucket counting ``at``: the last one starting at or before it (the window
    ends at ``until`` inclusive)."""
    assert datetime.fromisoformat(body["since"]) < at <= datetime.fromisoformat(body["until"])
    starts = [b for b in body["buckets"] if datetime.fromisoformat(b["start"]) <= at]
    counts: dict[str, int] = starts[-1]["counts"]
    return counts


async def test_each_series_counts_in_the_bucket_of_its_time(
    api: Api, manual_clock: ManualClock
) -> None:
    admin = await api.token_for("root", "admin")
    operator = await api.token_for("olga", "operator")
    first = manual_clock.now()
    for _ in range(3):
        await fail_login(api, LOUD)
    await fail_login(api, QUIET)
    refused = await api.http.get("/api/v1/users", headers=bearer(operator))
    assert refused.status_code == 403
    blocked = await api.http.post(
        "/api/v1/security/blocklist",
        headers=bearer(admin),
        json={"address": "198.51.100.99", "ttl_seconds": 600, "reason": "probing"},
    )
    assert blocked.status_code == 201, blocked.text
    opened = await api.http.post(
        "/api/v1/incidents",
        headers=bearer(admin),
        json={"kind": "unclassified", "title": "odd sign-ins", "severity": "high"},
    )
    assert opened.status_code == 201, opened.text

    await manual_clock.advance(3 * 3600)
    later = manual_clock.now()
    await fail_login(api, QUIET)
    admin = str((await api.login("root"))["access_token"])  # the first one has expired

    body = await read(api, admin, hours=24)
    assert body["bucket_seconds"] == 3600 and len(body["buckets"]) == 24
    assert body["series"] == ["failed_logins", "denials", "blocks", "detections", "alerts"]
    assert body["totals"] == {
        "failed_logins": 5,
        "denials": 1,
        "blocks": 1,
        "detections": 0,
        "alerts": 1,
    }
    early = bucket_of(body, first)
    assert early["failed_logins"] == 4 and early["denials"] == 1
    assert early["blocks"] == 1 and early["alerts"] == 1
    assert bucket_of(body, later)["failed_logins"] == 1
    assert sum(b["counts"]["failed_logins"] for b in body["buckets"]) == 5
    assert body["open_incidents"] == 1 and body["truncated"] is False
    sources = [(s["address"], s["total"]) for s in body["top_sources"]]
    assert sources[:2] == [(LOUD, 3), (QUIET, 2)]

    # A shorter window leaves the early events out.
    recent = await read(api, admin, hours=2)
    assert recent["totals"]["failed_logins"] == 1 and recent["totals"]["alerts"] == 0
    assert [s["address"] for s in recent["top_sources"]] == [QUIET]


async def test_a_closed_incident_is_no_longer_open(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    opened = await api.http.post(
        "/api/v1/incidents",
        headers=bearer(admin),
        json={"kind": "unclassified", "title": "a test alarm", "severity": "medium"},
    )
    incident = opened.json()
    assert (await read(api, admin))["open_incidents"] == 1
    moved = await api.http.post(
        f"/api/v1/incidents/{incident['id']}/state",
        headers=bearer(admin),
        json={"state": "false_positive", "note": "a drill"},
    )
    assert moved.status_code == 200, moved.text
    body = await read(api, admin)
    assert body["open_incidents"] == 0 and body["totals"]["alerts"] == 1


async def test_only_security_staff_read_it_and_the_window_is_bounded(api: Api) -> None:
    operator = await api.token_for("olga", "operator")
    admin = await api.token_for("root", "admin")
    refused = await api.http.get(DASHBOARD, headers=bearer(operator))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await api.http.get(DASHBOARD)).status_code == 401
    for hours in ("0", "2161", "many"):
        bad = await api.http.get(DASHBOARD, headers=bearer(admin), params={"hours": hours})
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")


@pytest.fixture
async def acting(make_settings: Any, db_url: str, manual_clock: ManualClock) -> AsyncIterator[Api]:
    """Threat responses that act (the suite's default is monitor-only)."""
    settings = make_settings(
        database={"url": db_url},
        server={"trusted_proxies": ["10.0.0.0/8"]},
        limits={"requests_per_minute": 100_000},
        threats={"responses": {"monitor_only": False}},
    )
    async for value in build_api(settings, address="10.0.0.5", clock=manual_clock):
        yield value


async def detected(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    """Five failed sign-ins from one address (the brute-force rule's default), then the
    dashboard once the detection is in, and its audited response."""
    admin = await api.token_for("root", "admin")
    for _ in range(5):
        await fail_login(api, LOUD)
    body = await read(api, admin)
    for _ in range(200):  # the detectors run behind the event stream: wait for them
        if body["totals"]["detections"]:
            break
        await asyncio.sleep(0.05)
        body = await read(api, admin)
    responses = await api.http.get(
        "/api/v1/audit", headers=bearer(admin), params={"action": "threats.response"}
    )
    (response,) = responses.json()["items"]
    assert response["details"]["response"] == "block_ip"
    assert body["totals"]["detections"] == 1
    (source,) = [s for s in body["top_sources"] if s["address"] == LOUD]
    assert source["counts"] == {"failed_logins": 5, "detections": 1}
    return body, response


async def test_a_block_a_response_applied_counts_as_a_block(acting: Api) -> None:
    body, response = await detected(acting)
    assert response["details"]["status"] == "applied"
    assert body["totals"]["blocks"] == 1


async def test_a_monitor_only_response_is_a_detection_and_no_block(api: Api) -> None:
    body, response = await detected(api)
    assert response["details"]["status"] == "monitor_only"
    assert body["totals"]["blocks"] == 0
