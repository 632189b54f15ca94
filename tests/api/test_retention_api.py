"""Retention over the API: a site's days and legal holds, compliance_manage in scope, audited."""

from __future__ import annotations

from tests.api.conftest import Api, bearer
from tests.api.test_streams import device

REASON = {"reason": "case 2026-113: preserve door 4 footage"}


async def test_a_sites_days_are_read_set_validated_and_audited(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    path = "/api/v1/sites/dock/retention"
    first = await api.http.get(path, headers=bearer(admin))
    assert first.status_code == 200, first.text
    assert first.json()["effective"] == {"continuous": 90, "event": 365, "export": 2555}
    assert first.json()["own"] == {"continuous": None, "event": None, "export": None}

    changed = await api.http.put(path, headers=bearer(admin), json={"continuous": 30})
    assert changed.status_code == 200, changed.text
    assert changed.json()["effective"] == {"continuous": 30, "event": 365, "export": 2555}
    assert (await api.http.get(path, headers=bearer(admin))).json()["own"]["continuous"] == 30

    for bad in ({"continuous": 0}, {"event": 40_000}, {"forever": 1}, {"export": "x"}):
        refused = await api.http.put(path, headers=bearer(admin), json=bad)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"].startswith("application/problem+json")

    audit = await api.http.get(
        "/api/v1/audit?action=recording.retention.configure", headers=bearer(admin)
    )
    (entry,) = audit.json()["items"]
    assert entry["actor_name"] == "root" and entry["resource_id"] == "dock"
    assert entry["details"]["after"]["continuous"] == 30
    assert entry["details"]["before"]["continuous"] is None


async def test_only_compliance_in_scope_may_see_or_change_retention(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin, "dock")
    operator = await api.token_for("otto", "operator", sites=["dock"])
    outsider = await api.token_for("olga", "admin", sites=["yard"])
    for token, status in ((operator, 403), (outsider, 404)):
        site = await api.http.get("/api/v1/sites/dock/retention", headers=bearer(token))
        assert site.status_code == status
        hold = await api.http.post(
            f"/api/v1/devices/{device_id}/holds", headers=bearer(token), json=REASON
        )
        assert hold.status_code == status
    unknown = await api.http.get(
        "/api/v1/devices/0123456789abcdef0123456789abcdef/holds", headers=bearer(admin)
    )
    assert unknown.status_code == 404


async def test_holds_are_placed_listed_and_released_with_reasons(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin, "dock")
    path = f"/api/v1/devices/{device_id}/holds"

    for bad in (
        {},
        {"reason": "too short"},
        {"reason": REASON["reason"], "start": "2026-01-02T00:00:00"},
        {**REASON, "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    ):
        refused = await api.http.post(path, headers=bearer(admin), json=bad)
        assert refused.status_code == 422, bad

    whole = await api.http.post(path, headers=bearer(admin), json=REASON)
    assert whole.status_code == 201, whole.text
    ranged = await api.http.post(
        path,
        headers=bearer(admin),
        json={**REASON, "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
    )
    assert ranged.status_code == 201
    assert ranged.json()["start"].startswith("2026-01-01T00:00:00")
    listed = await api.http.get(f"{path}?limit=1", headers=bearer(admin))
    assert [h["id"] for h in listed.json()] == [ranged.json()["id"]]  # newest first
    assert 'rel="next"' in listed.headers["link"]

    hold_id = whole.json()["id"]
    release = f"{path}/{hold_id}/release"
    assert (await api.http.post(release, headers=bearer(admin), json={})).status_code == 422
    released = await api.http.post(
        release, headers=bearer(admin), json={"reason": "case 2026-113 closed by the court"}
    )
    assert released.status_code == 200, released.text
    assert released.json()["active"] is False
    again = await api.http.post(
        release, headers=bearer(admin), json={"reason": "case 2026-113 closed by the court"}
    )
    assert again.status_code == 409
    active = await api.http.get(f"{path}?active=true", headers=bearer(admin))
    assert [h["id"] for h in active.json()] == [ranged.json()["id"]]

    # A hold of one device cannot be released through another.
    other = await device(api, admin, "yard")
    foreign = await api.http.post(
        f"/api/v1/devices/{other}/holds/{ranged.json()['id']}/release",
        headers=bearer(admin),
        json={"reason": "case 2026-113 closed by the court"},
    )
    assert foreign.status_code == 404

    audit = await api.http.get("/api/v1/audit?action=recording.hold.*", headers=bearer(admin))
    actions = [(e["action"], e["details"]["hold_id"]) for e in audit.json()["items"]]
    assert sorted(actions) == sorted(
        [
            ("recording.hold.place", hold_id),
            ("recording.hold.place", ranged.json()["id"]),
            ("recording.hold.release", hold_id),
        ]
    )
