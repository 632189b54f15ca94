"""Site stream policies: a floor for every device of the site; validated, scoped, audited."""

from typing import Any

from lensguard.store.streams import stream_policy
from tests.api.conftest import Api, bearer
from tests.api.test_streams import device
from tests.api.test_streams import put as put_stream


async def put(api: Api, token: str, site: str, **body: Any) -> Any:
    return await api.http.put(f"/api/v1/sites/{site}/policy", headers=bearer(token), json=body)


async def test_site_policy_is_a_floor_devices_cannot_lower(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin, "dock")
    first = await api.http.get("/api/v1/sites/dock/policy", headers=bearer(admin))
    assert first.json() == {
        "site": "dock",
        "redact_faces": False,
        "ai_models": [],
        "devices": 1,
        "recording": {
            "mode": "off",
            "pre_roll_seconds": None,
            "post_roll_seconds": None,
            "segment_seconds": None,
            "record_raw": False,
        },
    }
    changed = await put(api, admin, "dock", redact_faces=True, ai_models=["grayscale"])
    assert changed.status_code == 200, changed.text
    assert changed.json()["redact_faces"] is True and changed.json()["devices"] == 1
    assert (await put_stream(api, admin, device_id, redact_faces=False)).status_code == 200
    assert (await put_stream(api, admin, device_id, ai_models=["edges"])).status_code == 200
    async with api.app.state.services.db.sessions() as session:
        policy = await stream_policy(session, device_id)
    assert policy is not None and policy.redact_faces and policy.redaction_from == "site"
    assert policy.ai_models == ("grayscale", "edges")  # the site's first
    shown = (await api.http.get(f"/api/v1/streams/{device_id}", headers=bearer(admin))).json()
    assert shown["redact_faces"] is False  # the device's own setting...
    assert shown["effective"] == {  # ...and what the relay applies
        "ai_models": ["grayscale", "edges"],
        "redact_faces": True,
        "redaction_from": "site",
        "recording": {
            "mode": "off",
            "mode_from": None,
            "pre_roll_seconds": 5,
            "post_roll_seconds": 10,
            "segment_seconds": 4.0,
            "record_raw": False,
        },
    }

    await put(api, admin, "dock", redact_faces=False)
    async with api.app.state.services.db.sessions() as session:
        policy = await stream_policy(session, device_id)
    assert policy is not None and not policy.redact_faces and policy.redaction_from is None

    audit = await api.http.get("/api/v1/audit?action=site.policy.configure", headers=bearer(admin))
    items = audit.json()["items"]
    assert [i["resource_id"] for i in items] == ["dock", "dock"]
    assert items[0]["details"]["before"]["redact_faces"] is False
    assert items[0]["details"]["after"]["redact_faces"] is True
    assert items[1]["details"]["before"]["redact_faces"] is True


async def test_bad_input_names_the_field(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    unknown = await put(api, admin, "dock", ai_models=["mind_reader"])
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.ai_models"
    assert "pixelate_faces" in unknown.json()["errors"][0]["message"]
    wrong_type = await put(api, admin, "dock", redact_faces="maybe")
    assert wrong_type.status_code == 422
    assert wrong_type.json()["errors"][0]["field"] == "body.redact_faces"
    stray = await put(api, admin, "dock", redact_everything=True)
    assert stray.status_code == 422
    bad_site = await api.http.get("/api/v1/sites/..%2Fetc/policy", headers=bearer(admin))
    assert bad_site.status_code in (404, 422)
    assert bad_site.headers["content-type"].startswith("application/problem+json")


async def test_scope_and_permission(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    outsider = await api.token_for("ada", "viewer", sites=["site-a"])
    local = await api.token_for("bob", "viewer", sites=["site-b"])
    assert (
        await api.http.get("/api/v1/sites/site-b/policy", headers=bearer(outsider))
    ).status_code == 404
    assert (
        await api.http.get("/api/v1/sites/site-b/policy", headers=bearer(local))
    ).status_code == 200
    assert (await put(api, local, "site-b", redact_faces=True)).status_code == 403
    scoped_admin = await api.token_for("cy", "admin", sites=["site-a"])
    assert (await put(api, scoped_admin, "site-b", redact_faces=True)).status_code == 404
    assert (await put(api, admin, "site-b", redact_faces=True)).status_code == 200
