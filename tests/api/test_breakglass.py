"""Break-glass grants over the API: people only, scoped, one's own, and audited."""

from tests.api.conftest import Api, bearer
from tests.api.test_api_keys import create_key
from tests.api.test_sites import put as put_site
from tests.api.test_streams import device

REASON = {"reason": "incident 7: verify who opened door 4", "minutes": 5}


async def test_only_a_signed_in_investigator_in_scope_may_open_a_grant(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin, "dock")
    assert (await put_site(api, admin, "dock", redact_faces=True)).status_code == 200
    path = f"/api/v1/streams/{device_id}/break-glass"

    outsider = await api.token_for("olga", "investigator", sites=["yard"])
    refused = await api.http.post(path, headers=bearer(outsider), json=REASON)
    assert refused.status_code == 404  # out of scope looks absent

    investigator = await api.token_for("ivy", "investigator", sites=["dock"])
    key = (
        await create_key(api, investigator, scopes=["camera_view", "redaction_override"])
    ).json()["key"]
    by_key = await api.http.post(path, headers=bearer(key), json=REASON)
    assert by_key.status_code == 403
    assert "signed-in user" in by_key.json()["detail"]

    granted = await api.http.post(path, headers=bearer(investigator), json=REASON)
    assert granted.status_code == 201, granted.text
    grant_id = granted.json()["id"]
    # Someone else's grant cannot be ended (nor seen) by another investigator.
    other = await api.token_for("ian", "investigator", sites=["dock"])
    assert (await api.http.get(path, headers=bearer(other))).json() == []
    foreign = await api.http.delete(f"{path}/{grant_id}", headers=bearer(other))
    assert foreign.status_code == 404
    ended = await api.http.delete(f"{path}/{grant_id}", headers=bearer(investigator))
    assert ended.status_code == 204
    assert (await api.http.get(path, headers=bearer(investigator))).json() == []

    audit = await api.http.get("/api/v1/audit?action=redaction.override.*", headers=bearer(admin))
    actions = [(e["action"], e["actor_name"]) for e in audit.json()["items"]]
    assert actions == [("redaction.override.grant", "ivy"), ("redaction.override.end", "ivy")]
    assert audit.json()["items"][0]["details"]["reason"] == REASON["reason"]
