"""Recording policy per site and device: a site floor, validated, audited, announced live."""

from __future__ import annotations

from typing import Any

from lensguard.streams.changes import StreamChange
from tests.api.conftest import Api, bearer
from tests.api.test_streams import device
from tests.api.test_streams import put as put_stream


async def put_site(api: Api, token: str, site: str, **body: Any) -> Any:
    return await api.http.put(f"/api/v1/sites/{site}/policy", headers=bearer(token), json=body)


async def effective(api: Api, token: str, device_id: str) -> dict[str, Any]:
    shown = await api.http.get(f"/api/v1/streams/{device_id}", headers=bearer(token))
    assert shown.status_code == 200, shown.text
    recording: dict[str, Any] = shown.json()["effective"]["recording"]
    return recording


async def test_a_site_mode_is_a_floor_a_device_may_raise_but_not_lower(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin, "dock")
    heard: list[StreamChange] = []
    api.identity.streams.observe(heard.append)

    site = await put_site(
        api,
        admin,
        "dock",
        recording={"mode": "continuous", "segment_seconds": 6, "pre_roll_seconds": 3},
    )
    assert site.status_code == 200, site.text
    assert site.json()["recording"] == {
        "mode": "continuous",
        "pre_roll_seconds": 3,
        "post_roll_seconds": None,
        "segment_seconds": 6.0,
        "record_raw": False,
    }
    own = await put_stream(api, admin, device_id, recording={"mode": "off"})
    assert own.status_code == 200, own.text
    assert own.json()["recording"]["mode"] == "off"  # the device's own setting...
    assert await effective(api, admin, device_id) == {  # ...and what is recorded
        "mode": "continuous",
        "mode_from": "site",
        "pre_roll_seconds": 3,
        "post_roll_seconds": 10,
        "segment_seconds": 6.0,
        "record_raw": False,
    }

    # A site that records less: the device's own, higher mode and lengths count.
    await put_site(api, admin, "dock", recording={"mode": "on_demand", "record_raw": True})
    await put_stream(
        api,
        admin,
        device_id,
        recording={
            "mode": "on_event",
            "pre_roll_seconds": 8,
            "post_roll_seconds": 30,
            "segment_seconds": 2.5,
        },
    )
    assert await effective(api, admin, device_id) == {
        "mode": "on_event",
        "mode_from": "device",
        "pre_roll_seconds": 8,
        "post_roll_seconds": 30,
        "segment_seconds": 2.5,
        "record_raw": True,
    }
    await put_site(api, admin, "dock", recording={"mode": "off"})
    await put_stream(api, admin, device_id, recording={"mode": "off"})
    assert (await effective(api, admin, device_id))["mode_from"] is None

    # Audited with the before and after of every field, like the other stream settings.
    audit = await api.http.get("/api/v1/audit?action=site.policy.configure", headers=bearer(admin))
    sites = audit.json()["items"]
    assert [i["details"]["after"]["recording_mode"] for i in sites] == [
        "continuous",
        "on_demand",
        "off",
    ]
    assert sites[1]["details"]["after"]["record_raw"] is True
    assert sites[1]["details"]["before"]["recording_mode"] == "continuous"
    audit = await api.http.get("/api/v1/audit?action=stream.configure", headers=bearer(admin))
    devices = audit.json()["items"]
    assert [i["details"]["after"]["recording_mode"] for i in devices] == ["off", "on_event", "off"]
    assert devices[1]["details"]["after"]["post_roll_seconds"] == 30

    # Announced live: every node's room hears each change (the recorder acts on it).
    await api.identity.recorder.settled()
    kinds = [(c.kind, c.site or c.device_id) for c in heard]
    for expected in (("site", "dock"), ("stream", device_id)):
        assert expected in kinds


async def test_bad_recording_policies_get_clear_problems(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin, "dock")
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("stream", {"mode": "sometimes"}, "body.recording.mode", "continuous"),
        ("stream", {"pre_roll_seconds": 31}, "body.recording.pre_roll_seconds", "30"),
        ("stream", {"post_roll_seconds": -1}, "body.recording.post_roll_seconds", "0"),
        ("stream", {"segment_seconds": 1}, "body.recording.segment_seconds", "2"),
        ("stream", {"segment_seconds": 11}, "body.recording.segment_seconds", "10"),
        ("stream", {"record_raw": True}, "body.recording", "site policy"),
        ("site", {"mode": "always"}, "body.recording.mode", "on_demand"),
        ("site", {"segment_seconds": 0.5}, "body.recording.segment_seconds", "2"),
    ]
    for where, recording, field, hint in cases:
        if where == "stream":
            answer = await put_stream(api, admin, device_id, recording=recording)
        else:
            answer = await put_site(api, admin, "dock", recording=recording)
        assert answer.status_code == 422, (recording, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        error = answer.json()["errors"][0]
        assert error["field"] == field, (recording, error)
        assert hint in error["message"], (recording, error)
        assert "sometimes" not in answer.text and "always" not in answer.text  # never echoed
    # Nothing was stored by any of them.
    assert (await effective(api, admin, device_id))["mode"] == "off"
