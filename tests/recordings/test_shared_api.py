"""GET /recordings/shared: a grantee finds what is shared with them, and only while it is.

On SQLite and PostgreSQL; the device is outside the grantee's own scope, so the
device list does not show it and this is how the console learns of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from lensguard.clock import ManualClock
from tests.api.conftest import Api, bearer
from tests.recordings.playback_support import add_device, playback_app, record, span
from tests.recordings.test_playback_grants import GRANTS

SHARED = "/api/v1/recordings/shared"


@pytest.fixture
async def api(
    request: pytest.FixtureRequest, make_settings: Any, db_url: str, manual_clock: ManualClock
) -> AsyncIterator[Api]:
    async for value in playback_app(request, make_settings, db_url, manual_clock, "local"):
        yield value


async def test_a_grantee_lists_its_active_grants_only(api: Api, manual_clock: ManualClock) -> None:
    admin = await api.token_for("ada", "admin")
    device = await add_device(api, admin, "gate", "dock")
    rows = await record(api, device, api.identity.clock.now() - timedelta(hours=1), 3)
    olly = await api.token_for("olly", "operator", sites=["yard"])
    olly_id = (await api.http.get("/api/v1/users/me", headers=bearer(olly))).json()["id"]
    other = await api.token_for("otto", "viewer", sites=["yard"])
    assert (await api.http.get(SHARED, headers=bearer(olly))).json() == []

    to_olly = {"device_id": device, **span(rows[0].started_at, rows[1].ended_at), "hours": 1}
    mine = await api.http.post(GRANTS, headers=bearer(admin), json={**to_olly, "user_id": olly_id})
    assert mine.status_code == 201, mine.text
    by_role = {**to_olly, "role": "operator", "hours": 2}
    roles = await api.http.post(GRANTS, headers=bearer(admin), json=by_role)
    assert roles.status_code == 201, roles.text

    listed = await api.http.get(SHARED, headers=bearer(olly))
    assert listed.status_code == 200, listed.text
    items = listed.json()
    # The soonest to expire first; the device named, though olly cannot list it.
    assert [i["grant_id"] for i in items] == [mine.json()["id"], roles.json()["id"]]
    assert {(i["device_id"], i["device_name"], i["site"]) for i in items} == {
        (device, "gate", "dock")
    }
    assert items[0]["start"] == mine.json()["start"] and items[0]["end"] == mine.json()["end"]
    devices = await api.http.get("/api/v1/devices", headers=bearer(olly))
    assert device not in {d["id"] for d in devices.json()}

    # Pages like every list.
    first = await api.http.get(SHARED, headers=bearer(olly), params={"limit": 1})
    assert [i["grant_id"] for i in first.json()] == [mine.json()["id"]]
    following = first.headers["link"][1 : first.headers["link"].index(">")]
    second = await api.http.get(following, headers=bearer(olly))
    assert [i["grant_id"] for i in second.json()] == [roles.json()["id"]]

    # A viewer cannot watch recordings at all; revoked and expired grants drop out.
    assert (await api.http.get(SHARED, headers=bearer(other))).status_code == 403
    revoked = await api.http.delete(f"{GRANTS}/{roles.json()['id']}", headers=bearer(admin))
    assert revoked.status_code == 204
    await manual_clock.advance(3601)
    olly = str((await api.login("olly"))["access_token"])  # the old token expired too
    assert (await api.http.get(SHARED, headers=bearer(olly))).json() == []
