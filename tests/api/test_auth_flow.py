"""Sign-in, refresh, sign-out and sessions through the HTTP API."""

import asyncio

from lensguard.bootstrap import create_first_admin
from tests.api.conftest import PASSWORD, Api, bearer


async def test_login_me_logout(api_both: Api) -> None:
    api = api_both
    await api.add_user("ada", "operator")
    tokens = await api.login("ada")
    assert tokens["token_type"] == "Bearer"
    assert tokens["restrictions"] == []
    me = await api.http.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "ada"
    assert set(me.json()["permissions"]) == {
        "account_self",
        "account_credentials",
        "camera_view",
        "basic_control",
        "recording_view",
        "recording_manage",
    }

    out = await api.http.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    assert out.status_code == 204
    after = await api.http.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
    assert after.status_code == 401
    refreshed = await api.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    await api.add_user("ada", "viewer")
    wrong = await api.http.post(
        "/api/v1/auth/login", json={"username": "ada", "password": "x" * 14}
    )
    unknown = await api.http.post(
        "/api/v1/auth/login", json={"username": "nobody", "password": "x" * 14}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "invalid username or password"
    assert wrong.headers["www-authenticate"].startswith("Bearer")


async def test_refresh_rotates_and_reuse_revokes_the_family(api_both: Api) -> None:
    api = api_both
    await api.add_user("ada", "viewer")
    first = await api.login("ada")
    second = (
        await api.http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_id"] == first["session_id"]
    # Replaying the consumed token: reuse. The family dies, the newest token with it.
    replay = await api.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    newest = await api.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert newest.status_code == 401
    me = await api.http.get("/api/v1/users/me", headers=bearer(second["access_token"]))
    assert me.status_code == 401


async def test_fifty_parallel_refreshes_yield_exactly_one_success(api_both: Api) -> None:
    api = api_both
    await api.add_user("ada", "viewer")
    tokens = await api.login("ada")

    async def refresh() -> int:
        response = await api.http.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        return response.status_code

    statuses = await asyncio.gather(*(refresh() for _ in range(50)))
    assert statuses.count(200) == 1
    assert statuses.count(401) == 49


async def test_sessions_list_and_kill(api: Api) -> None:
    await api.add_user("ada", "viewer")
    admin = await api.token_for("root", "admin")
    laptop = await api.login("ada")
    phone = await api.login("ada")
    mine = await api.http.get("/api/v1/sessions", headers=bearer(phone["access_token"]))
    assert {s["id"] for s in mine.json()} == {laptop["session_id"], phone["session_id"]}
    assert [s["current"] for s in mine.json() if s["id"] == phone["session_id"]] == [True]

    # A viewer cannot see or end someone else's session: it does not exist for them.
    root_sessions = await api.http.get("/api/v1/sessions", headers=bearer(admin))
    root_sid = root_sessions.json()[0]["id"]
    denied = await api.http.delete(
        f"/api/v1/sessions/{root_sid}", headers=bearer(phone["access_token"])
    )
    assert denied.status_code == 404
    forbidden = await api.http.get(
        "/api/v1/sessions?all_users=true", headers=bearer(phone["access_token"])
    )
    assert forbidden.status_code == 403

    # The admin ends ada's laptop session: its token stops working at once.
    everyone = await api.http.get("/api/v1/sessions?all_users=true", headers=bearer(admin))
    assert laptop["session_id"] in {s["id"] for s in everyone.json()}
    kill = await api.http.delete(f"/api/v1/sessions/{laptop['session_id']}", headers=bearer(admin))
    assert kill.status_code == 204
    assert (
        await api.http.get("/api/v1/users/me", headers=bearer(laptop["access_token"]))
    ).status_code == 401
    assert (
        await api.http.get("/api/v1/users/me", headers=bearer(phone["access_token"]))
    ).status_code == 200


async def test_password_change_ends_other_sessions(api: Api) -> None:
    await api.add_user("ada", "viewer")
    keep = await api.login("ada")
    other = await api.login("ada")
    new_password = "a different passphrase 77"
    changed = await api.http.post(
        "/api/v1/auth/password",
        headers=bearer(keep["access_token"]),
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert changed.status_code == 200
    assert changed.json() == {"sessions_ended": 1, "api_keys_revoked": 0}
    assert (
        await api.http.get("/api/v1/users/me", headers=bearer(other["access_token"]))
    ).status_code == 401
    assert (
        await api.http.get("/api/v1/users/me", headers=bearer(keep["access_token"]))
    ).status_code == 200
    await api.login("ada", new_password)


async def test_first_admin_must_change_password_before_anything_else(api: Api) -> None:
    first = await create_first_admin(api.identity.settings)
    assert first is not None
    tokens = await api.login(first.username, first.password)
    assert tokens["restrictions"] == ["password_change"]
    blocked = await api.http.get("/api/v1/users", headers=bearer(tokens["access_token"]))
    assert blocked.status_code == 403
    changed = await api.http.post(
        "/api/v1/auth/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": first.password, "new_password": "a brand new passphrase 9"},
    )
    assert changed.status_code == 200, changed.text
    allowed = await api.http.get("/api/v1/users", headers=bearer(tokens["access_token"]))
    assert allowed.status_code == 200
    assert await create_first_admin(api.identity.settings) is None


async def test_role_change_and_disable_apply_to_the_next_request(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    ada_id = await api.add_user("ada", "operator")
    ada = (await api.login("ada"))["access_token"]
    me = await api.http.get("/api/v1/users/me", headers=bearer(ada))
    assert "basic_control" in me.json()["permissions"]

    demote = await api.http.patch(
        f"/api/v1/users/{ada_id}", headers=bearer(admin), json={"role": "viewer"}
    )
    assert demote.status_code == 200
    me = await api.http.get("/api/v1/users/me", headers=bearer(ada))
    assert "basic_control" not in me.json()["permissions"]

    disable = await api.http.patch(
        f"/api/v1/users/{ada_id}", headers=bearer(admin), json={"disabled": True}
    )
    assert disable.status_code == 200
    assert (await api.http.get("/api/v1/users/me", headers=bearer(ada))).status_code == 401
    relogin = await api.http.post(
        "/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}
    )
    assert relogin.status_code == 401


async def test_jwks_is_public_and_has_no_private_material(api: Api) -> None:
    await api.token_for("ada", "viewer")
    jwks = await api.http.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    keys = jwks.json()["keys"]
    assert keys and all(k["kty"] == "OKP" and "d" not in k for k in keys)
