"""Stream settings: validated, scoped, audited."""

from typing import Any

from tests.api.conftest import Api, bearer


async def device(api: Api, admin: str, site: str = "site-a") -> str:
    created = await api.http.post(
        "/api/v1/devices",
        headers=bearer(admin),
        json={"name": f"cam-{site}", "site": site, "kind": "camera"},
    )
    return str(created.json()["device"]["id"])


async def put(api: Api, token: str, device_id: str, **body: Any) -> Any:
    return await api.http.put(f"/api/v1/streams/{device_id}", headers=bearer(token), json=body)


async def test_settings_round_trip_and_are_audited(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin)
    default = await api.http.get(f"/api/v1/streams/{device_id}", headers=bearer(admin))
    assert default.json()["ai_models"] == [] and default.json()["redact_faces"] is False
    assert default.json()["resolution"] is None  # the source's own size
    changed = await put(
        api,
        admin,
        device_id,
        ai_models=["face_detect", "pixelate_faces"],
        redact_faces=True,
        resolution="1280x720",
        bitrate=2_000_000,
    )
    assert changed.status_code == 200, changed.text
    again = (await api.http.get(f"/api/v1/streams/{device_id}", headers=bearer(admin))).json()
    assert (
        again["ai_models"] == ["face_detect", "pixelate_faces"]
        and again["resolution"] == "1280x720"
    )
    audit = await api.http.get("/api/v1/audit?action=stream.configure", headers=bearer(admin))
    entry = audit.json()["items"][0]
    assert entry["resource_id"] == device_id and entry["details"]["after"]["redact_faces"] is True


async def test_invalid_settings_name_the_field_and_the_allowed_values(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin)
    unknown = await put(api, admin, device_id, ai_models=["face_detect", "mind_reader"])
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.ai_models"
    assert "pixelate_faces" in unknown.json()["errors"][0]["message"]
    small = await put(api, admin, device_id, resolution="160x120")
    assert small.status_code == 422
    assert small.json()["errors"][0]["field"] == "body.resolution"
    assert "320x240 and 3840x2160" in small.json()["errors"][0]["message"]
    fast = await put(api, admin, device_id, bitrate=50_000_000)
    assert fast.status_code == 422 and fast.json()["errors"][0]["field"] == "body.bitrate"
    assert "10000000" in fast.json()["errors"][0]["message"]


async def test_scope_and_permission(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin, "site-b")
    outsider = await api.token_for("ada", "viewer", sites=["site-a"])
    local = await api.token_for("bob", "viewer", sites=["site-b"])
    assert (
        await api.http.get(f"/api/v1/streams/{device_id}", headers=bearer(outsider))
    ).status_code == 404
    assert (
        await api.http.get(f"/api/v1/streams/{device_id}", headers=bearer(local))
    ).status_code == 200
    assert (await put(api, local, device_id, redact_faces=True)).status_code == 403


async def test_the_processor_list_is_what_ai_models_accepts(api: Api) -> None:
    viewer = await api.token_for("vera", "viewer")
    admin = await api.token_for("root", "admin")
    listed = await api.http.get("/api/v1/processors", headers=bearer(viewer))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert {"face_detect", "pixelate_faces", "motion_detect"} <= set(body["names"])
    assert body["names"] == sorted(body["names"])
    device_id = await device(api, admin)
    # Every listed name is accepted, up to the stated most; one more is refused.
    most = body["names"][: body["max_models"]]
    assert (await put(api, admin, device_id, ai_models=most)).status_code == 200
    too_many = most + [body["names"][0]] * (body["max_models"] + 1 - len(most))
    assert (await put(api, admin, device_id, ai_models=too_many)).status_code == 422
    assert (await api.http.get("/api/v1/processors")).status_code == 401
