"""Identity and access actions leave entries in the audit trail, in their own transaction."""

from typing import Any

from tests.api.conftest import PASSWORD, Api, bearer


async def entries(api: Api, admin: str, action: str) -> list[dict[str, Any]]:
    page = await api.http.get(f"/api/v1/audit?action={action}&limit=500", headers=bearer(admin))
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_sign_in_flows_are_audited(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    await api.add_user("ada", "viewer")
    await api.http.post("/api/v1/auth/login", json={"username": "ada", "password": "nope nope 123"})
    await api.http.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope 12345"})
    tokens = await api.login("ada")
    first = tokens["refresh_token"]
    await api.http.post("/api/v1/auth/refresh", json={"refresh_token": first})
    await api.http.post("/api/v1/auth/refresh", json={"refresh_token": first})  # reuse

    logins = await entries(api, admin, "auth.login")
    outcomes = [(e["actor_name"], e["outcome"], e["details"].get("reason")) for e in logins]
    assert ("ada", "failure", "bad_password") in outcomes
    assert ("ghost", "failure", "unknown_user") in outcomes
    assert ("ada", "success", None) in outcomes
    assert all(e["source_address"] == "198.51.100.10" for e in logins)
    success = next(e for e in logins if e["actor_name"] == "ada" and e["outcome"] == "success")
    assert success["resource_id"] == tokens["session_id"]

    reuse = await entries(api, admin, "auth.refresh_reuse")
    assert [e["outcome"] for e in reuse] == ["denied"]
    assert reuse[0]["resource_id"] == tokens["session_id"]

    verified = (await api.http.get("/api/v1/audit/verify", headers=bearer(admin))).json()
    assert verified["ok"] is True and verified["checked"] >= 6


async def test_admin_changes_and_keys_are_audited(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    ada_id = await api.add_user("ada", "operator")
    ada = (await api.login("ada"))["access_token"]
    await api.http.patch(f"/api/v1/users/{ada_id}", headers=bearer(admin), json={"role": "viewer"})
    created = await api.http.post(
        "/api/v1/api-keys", headers=bearer(ada), json={"name": "ci", "scopes": ["camera_view"]}
    )
    key = created.json()
    forged = key["key"][:-4] + ("AAAA" if not key["key"].endswith("AAAA") else "BBBB")
    await api.http.get("/api/v1/users/me", headers=bearer(forged))
    await api.http.delete(f"/api/v1/api-keys/{key['id']}", headers=bearer(ada))
    await api.http.post("/api/v1/auth/logout", headers=bearer(ada))

    change = (await entries(api, admin, "user.update"))[0]
    assert change["actor_name"] == "root" and change["resource_id"] == ada_id
    assert change["details"]["before"] == {"role": "operator"}
    assert change["details"]["after"] == {"role": "viewer"}
    actions = [e["action"] for e in await entries(api, admin, "apikey.*")]
    assert actions == ["apikey.create", "apikey.use_denied", "apikey.revoke"]
    ended = (await entries(api, admin, "auth.session_end"))[0]
    assert ended["actor_name"] == "ada" and ended["details"]["reason"] == "logout"


async def test_password_change_and_failure_are_audited(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    token = await api.token_for("ada", "viewer")
    await api.http.post(
        "/api/v1/auth/password",
        headers=bearer(token),
        json={"current_password": "wrong wrong wrong", "new_password": "another passphrase 1"},
    )
    await api.http.post(
        "/api/v1/auth/password",
        headers=bearer(token),
        json={"current_password": PASSWORD, "new_password": "another passphrase 1"},
    )
    changes = await entries(api, admin, "auth.password_change")
    assert [e["outcome"] for e in changes] == ["failure", "success"]


async def test_audit_requires_audit_read(api: Api) -> None:
    viewer = await api.token_for("ada", "viewer")
    assert (await api.http.get("/api/v1/audit", headers=bearer(viewer))).status_code == 403
