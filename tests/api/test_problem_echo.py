"""Rejected input never comes back in a problem (docs/errors.md: no echo)."""

import httpx

from tests.api.conftest import Api, bearer

# Short enough for every length limit it meets (a role is at most 32 characters).
HOSTILE = "<img src=x onerror=alert(1)>"
LOWER = "hostilescope"


def assert_no_echo(response: httpx.Response, *sent: str) -> None:
    assert response.status_code >= 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    for text in sent:
        assert text not in response.text, response.text


async def test_problem_detail_never_echoes_input(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    auth = bearer(admin)
    http = api.http
    user = (await http.get("/api/v1/users/me", headers=auth)).json()["id"]
    device = (
        await http.post(
            "/api/v1/devices", headers=auth, json={"name": "rover-1", "site": "a", "kind": "robot"}
        )
    ).json()["device"]["id"]
    new_user = {"username": "grace", "password": "long enough password 42"}
    probes = [
        await http.post("/api/v1/users", headers=auth, json={**new_user, "role": HOSTILE}),
        await http.patch(f"/api/v1/users/{user}", headers=auth, json={"role": HOSTILE}),
        await http.post("/api/v1/users", headers=auth, json={**new_user, HOSTILE: 1}),
        await http.post("/api/v1/users", headers=auth, json={**new_user, "username": HOSTILE}),
        await http.put(f"/api/v1/streams/{device}", headers=auth, json={"ai_models": [HOSTILE]}),
        await http.put("/api/v1/sites/a/policy", headers=auth, json={"ai_models": [HOSTILE]}),
        await http.post(
            "/api/v1/api-keys", headers=auth, json={"name": "k", "scopes": [HOSTILE, LOWER]}
        ),
        await http.post("/api/v1/api-keys", headers=auth, json={"name": "k", "scopes": [LOWER]}),
        await http.post(
            "/api/v1/security/blocklist",
            headers=auth,
            json={"address": HOSTILE, "ttl_seconds": 60, "reason": "test"},
        ),
        await http.delete(f"/api/v1/security/blocklist/{HOSTILE}", headers=auth),
        await http.get(f"/api/v1/devices/{HOSTILE}", headers=auth),
        await http.get(f"/api/v1/users?limit={HOSTILE}", headers=auth),
        await http.get(f"/no/such/{HOSTILE}"),
        await http.get("/api/v1/devices", headers=bearer(HOSTILE)),
        await http.post("/api/v1/auth/login", json={"username": HOSTILE, "password": HOSTILE}),
    ]
    for response in probes:
        assert_no_echo(response, HOSTILE, LOWER)
    # The problems still say which field and what is valid.
    role = probes[0].json()
    assert role["errors"] == [
        {
            "field": "role",
            "message": "must be one of: admin, device, investigator, operator, viewer",
            "type": "enum",
        }
    ]
    assert [e["field"] for e in probes[2].json()["errors"]] == ["body.*"]
    assert "face_detect" in probes[4].json()["detail"]
    assert "device_manage" in probes[7].json()["detail"]


async def test_conflict_does_not_repeat_the_name(api: Api) -> None:
    auth = bearer(await api.token_for("root", "admin"))
    body = {"name": "rover-7", "site": "a", "kind": "robot"}
    assert (await api.http.post("/api/v1/devices", headers=auth, json=body)).status_code == 201
    again = await api.http.post("/api/v1/devices", headers=auth, json=body)
    assert again.status_code == 409
    assert_no_echo(again, "rover-7")
    new_user = {"username": "grace-7", "password": "long enough password 42"}
    assert (await api.http.post("/api/v1/users", headers=auth, json=new_user)).status_code == 201
    twice = await api.http.post("/api/v1/users", headers=auth, json=new_user)
    assert twice.status_code == 409
    assert_no_echo(twice, "grace-7")
