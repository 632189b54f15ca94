"""API keys through HTTP: shown once, scoped to the owner, limited, revocable."""

from typing import Any

from tests.api.conftest import Api, bearer


async def create_key(api: Api, token: str, **body: Any) -> Any:
    payload = {"name": "ci", "scopes": ["camera_view"], **body}
    return await api.http.post("/api/v1/api-keys", headers=bearer(token), json=payload)


async def test_key_is_shown_once_and_authenticates(api_both: Api) -> None:
    api = api_both
    token = await api.token_for("ada", "operator")
    created = await create_key(api, token, scopes=["camera_view", "account_self"])
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("lg_")
    listed = await api.http.get("/api/v1/api-keys", headers=bearer(token))
    assert key not in listed.text
    assert listed.json()[0]["id"] == created.json()["id"]
    me = await api.http.get("/api/v1/users/me", headers=bearer(key))
    assert me.status_code == 200
    assert set(me.json()["permissions"]) == {"camera_view", "account_self"}


async def test_scopes_beyond_the_owner_are_refused(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    response = await create_key(api, token, scopes=["camera_view", "user_management"])
    assert response.status_code == 422
    # What the owner may grant is named; the scope sent is not repeated.
    detail = response.json()["detail"]
    assert "camera_view" in detail and "user_management" not in detail


async def test_scopes_are_rechecked_at_use(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    ada_id = await api.add_user("ada", "admin")
    ada = (await api.login("ada"))["access_token"]
    key = (await create_key(api, ada, scopes=["user_management", "account_self"])).json()["key"]
    assert (await api.http.get("/api/v1/users", headers=bearer(key))).status_code == 200
    await api.http.patch(f"/api/v1/users/{ada_id}", headers=bearer(admin), json={"role": "viewer"})
    assert (await api.http.get("/api/v1/users", headers=bearer(key))).status_code == 403


async def test_per_key_rate_limit(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    key = (await create_key(api, token, scopes=["account_self"], rate_limit_per_minute=3)).json()[
        "key"
    ]
    statuses = [
        (await api.http.get("/api/v1/users/me", headers=bearer(key))).status_code for _ in range(4)
    ]
    assert statuses[:3] == [200, 200, 200]
    limited = await api.http.get("/api/v1/users/me", headers=bearer(key))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1


async def test_revoked_and_forged_keys_fail_alike(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    created = (await create_key(api, token, scopes=["account_self"])).json()
    key = created["key"]
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    bad = await api.http.get("/api/v1/users/me", headers=bearer(forged))
    revoke = await api.http.delete(f"/api/v1/api-keys/{created['id']}", headers=bearer(token))
    assert revoke.status_code == 204
    revoked = await api.http.get("/api/v1/users/me", headers=bearer(key))
    assert bad.status_code == revoked.status_code == 401
    assert bad.json()["detail"] == revoked.json()["detail"]


async def test_others_cannot_revoke_or_see_my_key(api: Api) -> None:
    owner = await api.token_for("ada", "viewer")
    other = await api.token_for("bob", "viewer")
    key_id = (await create_key(api, owner, scopes=["account_self"])).json()["id"]
    assert (
        await api.http.delete(f"/api/v1/api-keys/{key_id}", headers=bearer(other))
    ).status_code == 404
    assert (await api.http.get("/api/v1/api-keys", headers=bearer(other))).json() == []
    assert (
        await api.http.get("/api/v1/api-keys?all_users=true", headers=bearer(other))
    ).status_code == 403
