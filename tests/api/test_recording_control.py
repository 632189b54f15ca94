"""On-demand recording: started and stopped by people holding recording_manage, audited."""

from __future__ import annotations

from tests.api.conftest import Api, bearer
from tests.api.test_streams import device
from tests.api.test_streams import put as put_stream


def path(device_id: str) -> str:
    return f"/api/v1/devices/{device_id}/recording"


async def test_on_demand_start_and_stop_are_permissioned_scoped_and_audited(
    api_both: Api,
) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    operator = await api.token_for("olga", "operator", sites=["dock"])
    viewer = await api.token_for("vic", "viewer", sites=["dock"])
    outsider = await api.token_for("ada", "operator", sites=["yard"])
    device_id = await device(api, admin, "dock")

    state = await api.http.get(path(device_id), headers=bearer(viewer))
    assert state.status_code == 200, state.text
    assert state.json() == {
        "mode": "off",
        "recording": False,
        "recording_id": None,
        "since": None,
        "requested": False,
    }
    # Only in on_demand mode; the problem says why.
    refused = await api.http.post(path(device_id), headers=bearer(operator))
    assert refused.status_code == 409
    assert "on_demand" in refused.json()["detail"]
    await put_stream(api, admin, device_id, recording={"mode": "on_demand"})

    assert (await api.http.post(path(device_id), headers=bearer(viewer))).status_code == 403
    for token in (outsider,):  # out of scope: no existence leak
        assert (await api.http.post(path(device_id), headers=bearer(token))).status_code == 404
        assert (await api.http.get(path(device_id), headers=bearer(token))).status_code == 404
    unknown = "0123456789abcdef0123456789abcdef"
    assert (await api.http.post(path(unknown), headers=bearer(admin))).status_code == 404

    started = await api.http.post(path(device_id), headers=bearer(operator))
    assert started.status_code == 202, started.text
    assert started.json()["mode"] == "on_demand" and started.json()["requested"] is True
    again = await api.http.post(path(device_id), headers=bearer(admin))
    assert again.status_code == 202 and again.json()["requested"] is True
    # The device is not connected: nothing records yet, the request waits for it.
    assert started.json()["recording"] is False

    assert (await api.http.delete(path(device_id), headers=bearer(viewer))).status_code == 403
    stopped = await api.http.delete(path(device_id), headers=bearer(admin))
    assert stopped.status_code == 200 and stopped.json()["requested"] is False
    assert (await api.http.delete(path(device_id), headers=bearer(admin))).status_code == 200

    audit = await api.http.get("/api/v1/audit?action=recording.started", headers=bearer(admin))
    starts = audit.json()["items"]
    assert len(starts) == 1  # the second start changed nothing
    assert starts[0]["actor_name"] == "olga" and starts[0]["resource_id"] == device_id
    audit = await api.http.get("/api/v1/audit?action=recording.stopped", headers=bearer(admin))
    stops = audit.json()["items"]
    assert len(stops) == 1 and stops[0]["actor_name"] == "root"
    assert stops[0]["details"]["started_by"] == starts[0]["actor_id"]
