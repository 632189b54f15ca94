"""Running an incident over the API: open, read, steps that act, the flow, owner, clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from lensguard.audit.checkpoint import verify_checkpoint_signature
from lensguard.clock import ManualClock
from tests.api.conftest import Api, bearer, build_api
from tests.api.test_devices import register

BASE = "/api/v1/incidents"
ATTACKER = "203.0.113.50"


@pytest.fixture
async def api(make_settings: Any, db_url: str, manual_clock: ManualClock) -> AsyncIterator[Api]:
    settings = make_settings(database={"url": db_url}, limits={"requests_per_minute": 100_000})
    async for value in build_api(settings, clock=manual_clock):
        yield value


async def open_one(api: Api, token: str, **body: Any) -> dict[str, Any]:
    answer = await api.http.post(BASE, headers=bearer(token), json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def step(api: Api, token: str, incident_id: str, step_id: str, **body: Any) -> Any:
    return await api.http.post(
        f"{BASE}/{incident_id}/steps/{step_id}", headers=bearer(token), json=body
    )


async def audit_actions(api: Api, token: str, action: str) -> list[dict[str, Any]]:
    found = await api.http.get(f"/api/v1/audit?action={action}", headers=bearer(token))
    items: list[dict[str, Any]] = found.json()["items"]
    return items


async def test_a_device_compromise_is_contained_through_its_steps(
    api: Api, manual_clock: ManualClock
) -> None:
    admin = await api.token_for("root", "admin")
    created = (await register(api, admin, "rover-1", "dock")).json()
    device_id = created["device"]["id"]
    incident = await open_one(
        api,
        admin,
        kind="device_compromise",
        title="rover-1 heard from two addresses",
        severity="critical",
        principal=device_id,
        address=ATTACKER,
    )
    assert incident["acknowledged_at"] is not None  # opened by a person
    assert incident["notification"] is None  # no deadline for this kind
    steps = {s["id"]: s for s in incident["steps"]}
    assert steps["revoke"]["kind"] == "automatic" and steps["revoke"]["status"] == "pending"
    assert steps["commands"]["status"] == "blocked" and steps["commands"]["waiting_on"] == [
        "confirm"
    ]
    path = f"{BASE}/{incident['id']}"

    revoked = await step(api, admin, incident["id"], "revoke", note="cut it off")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["body"]["status"] == "done"
    assert revoked.json()["body"]["result"] == {"revoked": {device_id: 1}}
    old = await api.http.post("/api/v1/auth/device-token", headers=bearer(created["credential"]))
    assert old.status_code == 401
    (audited,) = await audit_actions(api, admin, "device.credential_revoke")
    assert audited["resource_id"] == device_id and audited["actor_name"] == "root"

    held = await step(api, admin, incident["id"], "hold")
    assert held.json()["body"]["status"] == "done", held.text
    holds = await api.http.get(f"/api/v1/devices/{device_id}/holds", headers=bearer(admin))
    (hold,) = holds.json()
    assert hold["id"] == held.json()["body"]["result"]["holds"][device_id]
    assert hold["end"] is None and incident["id"] in hold["reason"]

    blocked = await step(api, admin, incident["id"], "block")
    assert blocked.json()["body"]["status"] == "done", blocked.text
    listed = await api.http.get("/api/v1/security/blocklist", headers=bearer(admin))
    assert [b["address"] for b in listed.json()] == [ATTACKER]

    again = await step(api, admin, incident["id"], "revoke")
    assert again.status_code == 409 and "already done" in again.json()["detail"]
    early = await step(api, admin, incident["id"], "commands")
    assert early.status_code == 409
    assert early.headers["content-type"].startswith("application/problem+json")
    assert "confirm" in early.json()["detail"]
    unknown = await step(api, admin, incident["id"], "launch")
    assert unknown.status_code == 404 and "confirm" in unknown.json()["detail"]

    ticked = await step(api, admin, incident["id"], "confirm", note="both addresses are not it")
    assert ticked.json()["body"] == {
        "step": "confirm",
        "action": None,
        "status": "done",
        "note": "both addresses are not it",
    }
    read = (await api.http.get(path, headers=bearer(admin))).json()
    shown = {s["id"]: s["status"] for s in read["steps"]}
    assert shown["confirm"] == shown["revoke"] == shown["hold"] == shown["block"] == "done"
    assert shown["commands"] == "pending" and shown["reimage"] == "blocked"
    timeline = (await api.http.get(f"{path}/timeline", headers=bearer(admin))).json()
    assert [e["kind"] for e in timeline] == ["opened", "step", "step", "step", "step"]
    assert len(await audit_actions(api, admin, "incident.step")) == 4


async def test_accounts_are_isolated_or_signed_out_and_the_audit_range_is_signed(
    api: Api,
) -> None:
    admin = await api.token_for("root", "admin")
    await api.token_for("eve", "operator")
    await api.token_for("mallory", "viewer")
    breach = await open_one(
        api, admin, kind="data_breach", title="exports by eve", severity="critical", principal="eve"
    )
    isolated = await step(api, admin, breach["id"], "isolate")
    assert isolated.json()["body"]["status"] == "done", isolated.text
    refused = await api.http.post(
        "/api/v1/auth/login",
        json={"username": "eve", "password": "correct horse battery staple 42"},
    )
    assert refused.status_code == 401

    signed = await step(api, admin, breach["id"], "preserve_audit")
    result = signed.json()["body"]["result"]
    assert result["from_seq"] <= result["to_seq"]
    assert verify_checkpoint_signature(
        result["checkpoint"], api.identity.audit.checkpoint_public_key
    )

    brute = await open_one(
        api, admin, kind="brute_force", title="guessing", principal="mallory", address=ATTACKER
    )
    ended = await step(api, admin, brute["id"], "sessions")
    assert ended.json()["body"]["result"]["sessions_ended"] == 1, ended.text
    nobody = await open_one(api, admin, kind="brute_force", title="no account named")
    skipped = await step(api, admin, nobody["id"], "sessions")
    body = skipped.json()["body"]
    assert body["status"] == "skipped" and "names no account" in body["why"]
    shown = (await api.http.get(f"{BASE}/{nobody['id']}", headers=bearer(admin))).json()
    (sessions,) = [s for s in shown["steps"] if s["id"] == "sessions"]
    assert sessions["status"] == "pending" and sessions["last"]["status"] == "skipped"
    named = await step(api, admin, nobody["id"], "sessions", account="mallory")
    assert named.json()["body"]["status"] == "done"


async def test_the_last_admin_is_never_isolated_by_a_step(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    breach = await open_one(api, admin, kind="data_breach", title="root?", principal="root")
    isolated = await step(api, admin, breach["id"], "isolate")
    body = isolated.json()["body"]
    assert body["status"] == "skipped" and "last enabled administrator" in body["why"]
    assert (await api.http.get("/api/v1/users/me", headers=bearer(admin))).status_code == 200


async def test_the_flow_comments_owner_and_the_72_hour_clock(
    api: Api, manual_clock: ManualClock
) -> None:
    admin = await api.token_for("root", "admin")
    other = await api.add_user("olga", "admin")
    breach = await open_one(api, admin, kind="data_breach", title="footage leaked")
    path = f"{BASE}/{breach['id']}"
    clock = breach["notification"]
    opened = datetime.fromisoformat(breach["opened_at"])
    assert (datetime.fromisoformat(clock["deadline"]) - opened).total_seconds() == 72 * 3600
    assert clock["seconds_left"] == 72 * 3600 and clock["overdue"] is False
    await manual_clock.advance(73 * 3600)
    admin = (await api.login("root"))["access_token"]  # the first token expired meanwhile
    late = (await api.http.get(path, headers=bearer(admin))).json()["notification"]
    assert late["seconds_left"] == -3600 and late["overdue"] is True

    bad = await api.http.post(f"{path}/state", headers=bearer(admin), json={"state": "open"})
    assert bad.status_code == 409 and "triaged" in bad.json()["detail"]
    moved = await api.http.post(
        f"{path}/state", headers=bearer(admin), json={"state": "triaged", "note": "real"}
    )
    assert moved.status_code == 200 and moved.json()["state"] == "triaged"
    assert "contained" in moved.json()["next_states"]

    said = await api.http.post(f"{path}/comments", headers=bearer(admin), json={"text": "hi"})
    assert said.status_code == 201 and said.json()["body"] == {"text": "hi"}
    mine = await api.http.put(f"{path}/owner", headers=bearer(admin), json={})
    me = (await api.http.get("/api/v1/users/me", headers=bearer(admin))).json()["id"]
    assert mine.json()["owner_id"] == me
    handed = await api.http.put(f"{path}/owner", headers=bearer(admin), json={"user_id": other})
    assert handed.json()["owner_id"] == other
    nobody = await api.http.put(f"{path}/owner", headers=bearer(admin), json={"user_id": None})
    assert nobody.json()["owner_id"] is None
    ghost = await api.http.put(f"{path}/owner", headers=bearer(admin), json={"user_id": "nope"})
    assert ghost.status_code == 422
    kinds = [
        e["kind"] for e in (await api.http.get(f"{path}/timeline", headers=bearer(admin))).json()
    ]
    assert kinds == ["opened", "state", "comment", "owner", "owner", "owner"]


async def test_listing_filters_and_pages_newest_first(api: Api, manual_clock: ManualClock) -> None:
    admin = await api.token_for("root", "admin")
    ids = []
    for n, severity in enumerate(("low", "critical", "high")):
        ids.append(
            (await open_one(api, admin, kind="unclassified", title=f"n{n}", severity=severity))[
                "id"
            ]
        )
        await manual_clock.advance(1)
    await api.http.post(
        f"{BASE}/{ids[0]}/state", headers=bearer(admin), json={"state": "false_positive"}
    )

    first = await api.http.get(f"{BASE}?limit=1&running=false", headers=bearer(admin))
    assert [i["id"] for i in first.json()] == [ids[2]]
    seen = [ids[2]]
    link = first.headers.get("link")
    while link:
        page = await api.http.get(link[1 : link.index(">")], headers=bearer(admin))
        seen += [i["id"] for i in page.json()]
        link = page.headers.get("link")
    assert seen == ids[::-1]
    running = await api.http.get(BASE, headers=bearer(admin))
    assert [i["id"] for i in running.json()] == [ids[2], ids[1]]
    critical = await api.http.get(f"{BASE}?severity=critical", headers=bearer(admin))
    assert [i["id"] for i in critical.json()] == [ids[1]]
    playbooks = await api.http.get(f"{BASE}/playbooks", headers=bearer(admin))
    assert "data_breach" in [p["kind"] for p in playbooks.json()]


async def test_bad_input_and_other_roles_are_refused(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    operator = await api.token_for("otto", "operator")
    for body in (
        {"kind": "alien", "title": "x"},
        {"kind": "unclassified", "title": ""},
        {"kind": "unclassified", "title": "x" * 201},
        {"kind": "unclassified", "title": "x", "extra": 1},
        {"kind": "unclassified", "title": "x", "severity": "apocalyptic"},
    ):
        refused = await api.http.post(BASE, headers=bearer(admin), json=body)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"].startswith("application/problem+json")
    alien = await api.http.post(BASE, headers=bearer(admin), json={"kind": "alien", "title": "x"})
    assert "data_breach" in alien.text
    assert (await api.http.get(f"{BASE}/missing", headers=bearer(admin))).status_code == 404
    one = await open_one(api, admin, kind="brute_force", title="x")
    too_many = await step(api, admin, one["id"], "block", device_ids=["d"] * 51)
    assert too_many.status_code == 422
    for method, path in (
        ("GET", BASE),
        ("POST", BASE),
        ("GET", f"{BASE}/{one['id']}"),
        ("POST", f"{BASE}/{one['id']}/steps/confirm"),
        ("PUT", f"{BASE}/{one['id']}/owner"),
    ):
        answer = await api.http.request(method, path, headers=bearer(operator), json={})
        assert answer.status_code == 403, (method, path)
