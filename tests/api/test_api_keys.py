"""API keys through HTTP: shown once, scoped to the owner, limited, revocable."""

from typing import Any

from lensguard.bootstrap import create_first_admin
from tests.api.conftest import PASSWORD, Api, bearer


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


async def test_api_key_cannot_change_password(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    # Even a key whose scopes name the permission: credential changes are person-only.
    created = await create_key(api, token, scopes=["account_self", "account_credentials"])
    key = created.json()["key"]
    changed = await api.http.post(
        "/api/v1/auth/password",
        headers=bearer(key),
        json={"current_password": PASSWORD, "new_password": "taken over by a key 42"},
    )
    assert changed.status_code == 403
    assert "signed-in user" in changed.json()["detail"]
    await api.login("ada")  # the password is unchanged


async def test_api_key_cannot_change_mfa(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    scopes = ["account_self", "account_credentials"]
    key = (await create_key(api, token, scopes=scopes)).json()["key"]
    proof = {"password": PASSWORD, "code": "123456"}
    for path, body in [
        ("/api/v1/auth/mfa/enrol", {"password": PASSWORD}),
        ("/api/v1/auth/mfa/confirm", {"code": "123456"}),
        ("/api/v1/auth/mfa/disable", proof),
    ]:
        response = await api.http.post(path, headers=bearer(key), json=body)
        assert response.status_code == 403, (path, response.text)


async def test_disabling_user_revokes_api_keys_for_good(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    ada_id = await api.add_user("ada", "viewer")
    ada = (await api.login("ada"))["access_token"]
    created = (await create_key(api, ada, scopes=["account_self"])).json()
    off = await api.http.patch(
        f"/api/v1/users/{ada_id}", headers=bearer(admin), json={"disabled": True}
    )
    assert off.status_code == 200, off.text
    on = await api.http.patch(
        f"/api/v1/users/{ada_id}", headers=bearer(admin), json={"disabled": False}
    )
    assert on.status_code == 200, on.text
    # Enabled again, ada signs in, but the key made before stays dead.
    await api.login("ada")
    assert (
        await api.http.get("/api/v1/users/me", headers=bearer(created["key"]))
    ).status_code == 401
    listed = await api.http.get("/api/v1/api-keys?all_users=true", headers=bearer(admin))
    assert [k["revoked"] for k in listed.json() if k["id"] == created["id"]] == [True]
    audit = await api.http.get("/api/v1/audit?action=apikey.revoke", headers=bearer(admin))
    reasons = [(e["resource_id"], e["details"]["reason"]) for e in audit.json()["items"]]
    assert reasons == [(created["id"], "user_disabled")]


async def test_password_change_offers_to_revoke_api_keys(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    kept = (await create_key(api, token, scopes=["account_self"])).json()["key"]
    second = "a second passphrase 77"
    plain = await api.http.post(
        "/api/v1/auth/password",
        headers=bearer(token),
        json={"current_password": PASSWORD, "new_password": second},
    )
    assert plain.json()["api_keys_revoked"] == 0
    assert (await api.http.get("/api/v1/users/me", headers=bearer(kept))).status_code == 200
    revoking = await api.http.post(
        "/api/v1/auth/password",
        headers=bearer(token),
        json={
            "current_password": second,
            "new_password": "a third passphrase 99",
            "revoke_api_keys": True,
        },
    )
    assert revoking.status_code == 200, revoking.text
    assert revoking.json()["api_keys_revoked"] == 1
    assert (await api.http.get("/api/v1/users/me", headers=bearer(kept))).status_code == 401


async def test_forced_password_change_revokes_keys_made_under_the_one_time_password(
    api: Api,
) -> None:
    first = await create_first_admin(api.identity.settings)
    assert first is not None
    tokens = await api.login(first.username, first.password)
    assert tokens["restrictions"] == ["password_change"]
    key = (await create_key(api, tokens["access_token"], scopes=["account_self"])).json()["key"]
    assert (await api.http.get("/api/v1/users/me", headers=bearer(key))).status_code == 200
    changed = await api.http.post(
        "/api/v1/auth/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": first.password, "new_password": "a chosen passphrase of mine 5"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["api_keys_revoked"] == 1  # without being asked
    assert (await api.http.get("/api/v1/users/me", headers=bearer(key))).status_code == 401
