"""Compliance reports over the API: controls follow the live data, never a fixed verdict."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update

from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from tests.api.conftest import Api, bearer, build_api

BASE = "/api/v1/compliance/reports"


@pytest.fixture
async def api(make_settings: Any, db_url: str, manual_clock: ManualClock) -> AsyncIterator[Api]:
    settings = make_settings(
        database={"url": db_url},
        limits={"requests_per_minute": 100_000},
        audit={"denial_window_seconds": 3_600},
    )
    async for value in build_api(settings, clock=manual_clock):
        yield value


def controls(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in body["controls"]}


async def report(api: Api, token: str, framework: str, **query: str) -> dict[str, Any]:
    answer = await api.http.get(f"{BASE}/{framework}", headers=bearer(token), params=query)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def tick(api: Api, token: str, incident_id: str, *steps: str) -> None:
    for step in steps:
        done = await api.http.post(
            f"/api/v1/incidents/{incident_id}/steps/{step}", headers=bearer(token), json={}
        )
        assert done.status_code == 200, done.text


async def test_gdpr_controls_follow_the_data(api: Api, manual_clock: ManualClock) -> None:
    root = await api.token_for("root", "admin")
    first = await report(api, root, "gdpr")
    shown = controls(first)
    assert first["schema"] == "lensguard-compliance-report/1"
    assert shown["Art. 30"]["status"] == "evidenced"
    assert shown["Art. 33"]["status"] == "no_evidence"
    assert shown["Art. 15, 20"]["status"] == "no_evidence"
    assert shown["Art. 17"]["status"] == "no_evidence"  # nobody asked for an erasure yet
    (personal,) = [
        e for e in shown["Art. 32"]["evidence"] if e["name"] == "personal_fields_encrypted"
    ]
    assert personal["status"] == "gap" and personal["facts"]["in_clear"] > 0
    assert shown["Art. 32"]["status"] == "gap"  # the worst of its evidence

    await api.http.post("/api/v1/privacy/exports", headers=bearer(root), json={"user": "root"})
    breach = await api.http.post(
        "/api/v1/incidents",
        headers=bearer(root),
        json={"kind": "data_breach", "title": "exports left", "severity": "critical"},
    )
    await manual_clock.advance(3600)
    root = (await api.login("root"))["access_token"]
    await tick(api, root, breach.json()["id"], "confirm", "scope", "authority")
    second = controls(await report(api, root, "gdpr"))
    assert second["Art. 15, 20"]["status"] == "evidenced"
    assert second["Art. 33"]["status"] == "evidenced"

    await api.http.post(
        "/api/v1/incidents",
        headers=bearer(root),
        json={"kind": "data_breach", "title": "a laptop", "severity": "critical"},
    )
    await manual_clock.advance(73 * 3600)
    root = (await api.login("root"))["access_token"]
    third = controls(await report(api, root, "gdpr"))
    (clock,) = third["Art. 33"]["evidence"]
    assert third["Art. 33"]["status"] == "gap"
    assert clock["summary"] == "1 of 2 notifications late or missed"
    assert [i["on_time"] for i in clock["facts"]["incidents"]].count(True) == 1


async def test_reviews_mfa_and_a_broken_chain_show_as_gaps(
    api: Api, manual_clock: ManualClock
) -> None:
    root = await api.token_for("root", "admin")
    sox = controls(await report(api, root, "sox"))
    assert sox["ITGC access-1"]["status"] == "no_evidence"
    assert sox["ITGC access-2"]["status"] == "gap"  # root has no second factor
    assert sox["ITGC logging-2"]["status"] == "evidenced"
    reviewed = await api.http.get("/api/v1/compliance/access-review", headers=bearer(root))
    assert reviewed.status_code == 200
    await manual_clock.advance(1)  # the period ends now: the review is in it a second later
    assert controls(await report(api, root, "sox"))["ITGC access-1"]["status"] == "evidenced"

    async with api.identity.db.transaction() as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == 2).values(action="auth.tampered")
        )
    pci = controls(await report(api, root, "pci"))
    (chain,) = pci["10.3"]["evidence"]
    assert pci["10.3"]["status"] == "gap" and chain["facts"]["first_broken_seq"] == 2
    assert "broken at entry 2" in chain["summary"]


async def test_html_bad_input_and_other_roles(api: Api) -> None:
    root = await api.token_for("root", "admin")
    operator = await api.token_for("otto", "operator")
    page = await api.http.get(f"{BASE}/hipaa?format=html", headers=bearer(root))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-disposition"].startswith('attachment; filename="hipaa-report-')
    assert "164.312(b)" in page.text and "<script" not in page.text and "@media print" in page.text

    unknown = await api.http.get(f"{BASE}/iso27001", headers=bearer(root))
    assert unknown.status_code == 422
    assert "gdpr, hipaa, pci, sox" in unknown.json()["detail"]
    backwards = await api.http.get(
        f"{BASE}/gdpr",
        headers=bearer(root),
        params={"from": "2026-06-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
    )
    assert backwards.status_code == 422 and "end after it starts" in backwards.json()["detail"]
    naive = await api.http.get(
        f"{BASE}/gdpr", headers=bearer(root), params={"from": "2026-01-01T00:00:00"}
    )
    assert naive.status_code == 422
    assert (await api.http.get(f"{BASE}/gdpr", headers=bearer(operator))).status_code == 403
    trail = await api.http.get("/api/v1/audit?action=compliance.report", headers=bearer(root))
    assert [i["resource_id"] for i in trail.json()["items"]] == ["hipaa"]
