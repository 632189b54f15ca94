"""Delegation through HTTP: a scoped admin stays inside its scope, and grants only what it holds.

One test per finding of the outside security test (scoped admins escaping their scope).
"""

from typing import Any

from tests.api.conftest import PASSWORD, Api, bearer

MISSING = "0123456789abcdef0123456789abcdef"
GRANT_REFUSED = (
    "you can only grant a role, permissions and scope (sites, devices) that you hold yourself"
)


async def new_user(api: Api, token: str, username: str, **body: Any) -> Any:
    payload = {"username": username, "password": PASSWORD, **body}
    return await api.http.post("/api/v1/users", headers=bearer(token), json=payload)


async def me(api: Api, token: str) -> dict[str, Any]:
    response = await api.http.get("/api/v1/users/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def scoped_admin(api: Api) -> tuple[str, str]:
    """A global admin's token and a site-a admin's token."""
    root = await api.token_for("root", "admin")
    local = await api.token_for("site-admin", "admin", sites=["site-a"])
    return root, local


async def test_scoped_admin_cannot_widen_own_scope(api_both: Api) -> None:
    api = api_both
    _, local = await scoped_admin(api)
    own = (await me(api, local))["id"]
    for sites in (["*"], ["site-a", "site-b"], ["site-b"]):
        widened = await api.http.patch(
            f"/api/v1/users/{own}", headers=bearer(local), json={"sites": sites}
        )
        assert widened.status_code == 403, sites
        assert widened.json()["detail"] == GRANT_REFUSED
    devices = await api.http.patch(
        f"/api/v1/users/{own}", headers=bearer(local), json={"devices": ["*"], "sites": ["*"]}
    )
    assert devices.status_code == 403
    assert (await me(api, local))["sites"] == ["site-a"]


async def test_scoped_admin_cannot_create_a_global_admin(api: Api) -> None:
    _, local = await scoped_admin(api)
    for body in ({"role": "admin", "sites": ["*"]}, {"role": "viewer", "sites": ["site-b"]}):
        refused = await new_user(api, local, "mallory", **body)
        assert refused.status_code == 403, body
        assert refused.json()["detail"] == GRANT_REFUSED
    # Inside its scope it may; scope left out is its own, not every site.
    made = await new_user(api, local, "alice", role="admin")
    assert made.status_code == 201, made.text
    assert made.json()["sites"] == ["site-a"]
    listed = (await api.http.get("/api/v1/users", headers=bearer(local))).json()
    assert "mallory" not in {u["username"] for u in listed}


async def test_scoped_admin_cannot_demote_disable_or_delete_the_global_admin(
    api_both: Api,
) -> None:
    api = api_both
    root, local = await scoped_admin(api)
    root_id = (await me(api, root))["id"]
    missing = await api.http.get(f"/api/v1/users/{MISSING}", headers=bearer(local))
    assert missing.status_code == 404
    attempts = [
        api.http.get(f"/api/v1/users/{root_id}", headers=bearer(local)),
        api.http.patch(f"/api/v1/users/{root_id}", headers=bearer(local), json={"role": "viewer"}),
        api.http.patch(f"/api/v1/users/{root_id}", headers=bearer(local), json={"disabled": True}),
        api.http.patch(
            f"/api/v1/users/{root_id}", headers=bearer(local), json={"sites": ["site-a"]}
        ),
        api.http.delete(f"/api/v1/users/{root_id}", headers=bearer(local)),
    ]
    for attempt in attempts:
        answer = await attempt
        # Out of reach reads exactly like absent.
        assert answer.status_code == 404
        assert answer.json()["detail"] == missing.json()["detail"]
    listed = (await api.http.get("/api/v1/users", headers=bearer(local))).json()
    assert [u["username"] for u in listed] == ["site-admin"]
    after = await me(api, root)
    assert (after["role"], after["disabled"], after["sites"]) == ("admin", False, ["*"])


async def test_scoped_admin_cannot_grant_a_role_with_permissions_it_lacks(api: Api) -> None:
    root = await api.token_for("root", "admin")
    viewer_id = await api.add_user("vic", "viewer")
    # redaction_override is no admin's: an admin cannot create, promote to or widen it.
    made = await new_user(api, root, "ivy", role="investigator")
    assert made.status_code == 403
    assert made.json()["detail"] == GRANT_REFUSED
    promoted = await api.http.patch(
        f"/api/v1/users/{viewer_id}", headers=bearer(root), json={"role": "investigator"}
    )
    assert promoted.status_code == 403
    inv_id = await api.add_user("ian", "investigator", sites=["dock"])
    widened = await api.http.patch(
        f"/api/v1/users/{inv_id}", headers=bearer(root), json={"sites": ["*"]}
    )
    assert widened.status_code == 403
    # It may still see and stop one: narrowing and disabling hand out nothing.
    listed = (await api.http.get("/api/v1/users", headers=bearer(root))).json()
    assert "ian" in {u["username"] for u in listed}
    disabled = await api.http.patch(
        f"/api/v1/users/{inv_id}", headers=bearer(root), json={"disabled": True}
    )
    assert disabled.status_code == 200
    # A narrow API key of an admin grants no more than its scopes.
    key = await api.http.post(
        "/api/v1/api-keys",
        headers=bearer(root),
        json={"name": "ops", "scopes": ["user_management", "account_self"]},
    )
    via_key = await new_user(api, key.json()["key"], "vera", role="viewer")
    assert via_key.status_code == 403


async def test_api_key_cannot_reach_wider_than_its_owner(api: Api) -> None:
    root, local = await scoped_admin(api)
    root_key = await api.http.post(
        "/api/v1/api-keys", headers=bearer(root), json={"name": "root", "scopes": ["account_self"]}
    )
    local_key = await api.http.post(
        "/api/v1/api-keys",
        headers=bearer(local),
        json={"name": "local", "scopes": sorted((await me(api, local))["permissions"])},
    )
    assert local_key.status_code == 201, local_key.text
    key = local_key.json()["key"]
    own = (await me(api, local))["id"]
    widened = await api.http.patch(
        f"/api/v1/users/{own}", headers=bearer(key), json={"sites": ["*"]}
    )
    assert widened.status_code == 403
    made = await new_user(api, key, "mallory", role="admin", sites=["*"])
    assert made.status_code == 403
    # Other accounts' keys: only those of accounts within reach are seen or revoked.
    everyone = await api.http.get("/api/v1/api-keys?all_users=true", headers=bearer(key))
    assert {k["id"] for k in everyone.json()} == {local_key.json()["id"]}
    revoked = await api.http.delete(
        f"/api/v1/api-keys/{root_key.json()['id']}", headers=bearer(key)
    )
    assert revoked.status_code == 404
    assert (
        await api.http.get("/api/v1/users/me", headers=bearer(root_key.json()["key"]))
    ).is_success


async def test_device_registration_in_another_site_is_refused(api: Api) -> None:
    root, local = await scoped_admin(api)
    camera_scoped = await api.token_for("cam-admin", "admin", devices=["cam-1"])
    body = {"name": "rover", "kind": "robot", "capabilities": ["video"]}
    assert (
        await api.http.post(
            "/api/v1/devices", headers=bearer(local), json={**body, "site": "site-b"}
        )
    ).status_code == 403
    # Scoped to one device, a new device (any device) is beyond it, in every site.
    assert (
        await api.http.post(
            "/api/v1/devices", headers=bearer(camera_scoped), json={**body, "site": "site-a"}
        )
    ).status_code == 403
    mine = await api.http.post(
        "/api/v1/devices", headers=bearer(local), json={**body, "site": "site-a"}
    )
    theirs = await api.http.post(
        "/api/v1/devices", headers=bearer(root), json={**body, "name": "far", "site": "site-b"}
    )
    mine_id, theirs_id = mine.json()["device"]["id"], theirs.json()["device"]["id"]
    moved = await api.http.patch(
        f"/api/v1/devices/{mine_id}", headers=bearer(local), json={"site": "site-b"}
    )
    assert moved.status_code == 403
    for attempt in (
        api.http.patch(
            f"/api/v1/devices/{theirs_id}", headers=bearer(local), json={"site": "site-a"}
        ),
        api.http.delete(f"/api/v1/devices/{theirs_id}", headers=bearer(local)),
        api.http.post(f"/api/v1/devices/{theirs_id}/credential", headers=bearer(local)),
    ):
        assert (await attempt).status_code == 404
    # A device's credential is revoked by managing the device, not by any signed-in user.
    credential = theirs.json()["credential"]
    key_id = credential.split("_")[1]
    viewer = await api.token_for("vic", "viewer")
    for token in (viewer, local):
        assert (
            await api.http.delete(f"/api/v1/api-keys/{key_id}", headers=bearer(token))
        ).status_code == 404
    exchanged = await api.http.post("/api/v1/auth/device-token", headers=bearer(credential))
    assert exchanged.status_code == 200


async def test_scoped_admin_cannot_see_or_end_the_global_admins_sessions(api: Api) -> None:
    root, local = await scoped_admin(api)
    root_id = (await me(api, root))["id"]
    everyone = await api.http.get("/api/v1/sessions?all_users=true", headers=bearer(local))
    assert {s["user_id"] for s in everyone.json()} == {(await me(api, local))["id"]}
    theirs = await api.http.get(f"/api/v1/sessions?user_id={root_id}", headers=bearer(local))
    assert theirs.json() == []
    sessions = await api.http.get("/api/v1/sessions", headers=bearer(root))
    session_id = sessions.json()[0]["id"]
    ended = await api.http.delete(f"/api/v1/sessions/{session_id}", headers=bearer(local))
    assert ended.status_code == 404
    assert (await api.http.get("/api/v1/users/me", headers=bearer(root))).status_code == 200
