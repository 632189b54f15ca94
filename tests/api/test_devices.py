"""The device registry: scope hiding, credentials shown once, device tokens."""

from typing import Any

from tests.api.conftest import Api, bearer


async def register(api: Api, token: str, name: str, site: str, **extra: Any) -> Any:
    body = {"name": name, "site": site, "kind": "robot", "capabilities": ["video", "control"]}
    return await api.http.post("/api/v1/devices", headers=bearer(token), json={**body, **extra})


async def test_register_and_list(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    created = await register(api, admin, "rover-1", "site-a")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["credential"].startswith("lg_")
    assert body["device"]["capabilities"] == ["control", "video"]
    listed = await api.http.get("/api/v1/devices", headers=bearer(admin))
    assert [d["name"] for d in listed.json()] == ["rover-1"]
    assert body["credential"] not in listed.text
    duplicate = await register(api, admin, "rover-1", "site-b")
    assert duplicate.status_code == 409


async def test_viewer_of_site_a_sees_nothing_of_site_b(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    a = (await register(api, admin, "cam-a", "site-a")).json()["device"]
    b = (await register(api, admin, "cam-b", "site-b")).json()["device"]
    viewer = await api.token_for("ada", "viewer", sites=["site-a"])
    listed = await api.http.get("/api/v1/devices", headers=bearer(viewer))
    assert [d["id"] for d in listed.json()] == [a["id"]]
    assert (
        await api.http.get(f"/api/v1/devices/{a['id']}", headers=bearer(viewer))
    ).status_code == 200
    hidden = await api.http.get(f"/api/v1/devices/{b['id']}", headers=bearer(viewer))
    missing = await api.http.get(
        "/api/v1/devices/0123456789abcdef0123456789abcdef", headers=bearer(viewer)
    )
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"]


async def test_device_scoped_admin_cannot_register_elsewhere(api: Api) -> None:
    scoped = await api.token_for("site-admin", "admin", sites=["site-a"])
    assert (await register(api, scoped, "ok", "site-a")).status_code == 201
    assert (await register(api, scoped, "nope", "site-b")).status_code == 403


async def test_device_credential_acts_only_as_the_device(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    credential = (await register(api, admin, "rover-1", "site-a")).json()["credential"]
    exchanged = await api.http.post("/api/v1/auth/device-token", headers=bearer(credential))
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()["access_token"]
    for tried in (credential, token):
        assert (await api.http.get("/api/v1/devices", headers=bearer(tried))).status_code == 403
        assert (await api.http.get("/api/v1/users/me", headers=bearer(tried))).status_code == 403
    # A user's token cannot be exchanged for a device token.
    assert (
        await api.http.post("/api/v1/auth/device-token", headers=bearer(admin))
    ).status_code == 403


async def test_rotating_the_credential_ends_the_old_one_and_its_tokens(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    created = (await register(api, admin, "rover-1", "site-a")).json()
    old = created["credential"]
    token = (await api.http.post("/api/v1/auth/device-token", headers=bearer(old))).json()[
        "access_token"
    ]
    rotated = await api.http.post(
        f"/api/v1/devices/{created['device']['id']}/credential", headers=bearer(admin)
    )
    assert rotated.status_code == 200
    new = rotated.json()["credential"]
    assert new != old
    assert (
        await api.http.post("/api/v1/auth/device-token", headers=bearer(old))
    ).status_code == 401
    assert (
        await api.http.post("/api/v1/auth/device-token", headers=bearer(token))
    ).status_code == 401
    assert (
        await api.http.post("/api/v1/auth/device-token", headers=bearer(new))
    ).status_code == 200


async def test_deleting_a_device_kills_its_credential(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    created = (await register(api, admin, "rover-1", "site-a")).json()
    gone = await api.http.delete(
        f"/api/v1/devices/{created['device']['id']}", headers=bearer(admin)
    )
    assert gone.status_code == 204
    again = await api.http.post("/api/v1/auth/device-token", headers=bearer(created["credential"]))
    assert again.status_code == 401


async def test_invalid_device_input_names_the_field(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    bad = await register(api, admin, "rover 1!", "site-a", kind="drone", capabilities=["teleport"])
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"body.name", "body.kind", "body.capabilities.0"} <= fields
