"""Recordings are seen only in scope: another site's device, playback or segment is a 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from lensguard.clock import ManualClock
from tests.api.conftest import Api, bearer
from tests.recordings.playback_support import add_device, playback_app, record, span

PLAYBACKS = "/api/v1/recordings/playbacks"


@pytest.fixture
async def api(
    request: pytest.FixtureRequest, make_settings: Any, db_url: str, manual_clock: ManualClock
) -> AsyncIterator[Api]:
    async for value in playback_app(request, make_settings, db_url, manual_clock):
        yield value


async def test_other_sites_recordings_answer_exactly_like_missing_ones(api: Api) -> None:
    admin = await api.token_for("ada", "admin")
    dock = await add_device(api, admin, "gate", "dock")
    yard = await add_device(api, admin, "fence", "yard")
    start = api.identity.clock.now() - timedelta(hours=1)
    dock_rows = await record(api, dock, start, 2)
    yard_rows = await record(api, yard, start, 2)
    window = span(start, start + timedelta(minutes=1))
    yard_operator = await api.token_for("olly", "operator", sites=["yard"])
    viewer = await api.token_for("vic", "viewer")

    def query(device: str) -> dict[str, Any]:
        return {"device_id": device, **window}

    for path in ("/api/v1/recordings/timeline", "/api/v1/recordings/segments"):
        foreign = await api.http.get(path, headers=bearer(yard_operator), params=query(dock))
        missing = await api.http.get(
            path, headers=bearer(yard_operator), params=query("0123456789abcdef0123456789abcdef")
        )
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["detail"] == missing.json()["detail"]
        own = await api.http.get(path, headers=bearer(yard_operator), params=query(yard))
        assert own.status_code == 200
        assert (
            await api.http.get(path, headers=bearer(viewer), params=query(yard))
        ).status_code == 403
    refused = await api.http.post(PLAYBACKS, headers=bearer(yard_operator), json=query(dock))
    assert refused.status_code == 404

    mine = await api.http.post(PLAYBACKS, headers=bearer(yard_operator), json=query(yard))
    assert mine.status_code == 201
    playback = mine.json()["id"]
    assert [s["id"] for s in mine.json()["segments"]] == [r.id for r in yard_rows]
    # A segment of another device through one's own playback: 404, nothing served.
    other = await api.http.get(
        f"{PLAYBACKS}/{playback}/segments/{dock_rows[0].id}", headers=bearer(yard_operator)
    )
    assert other.status_code == 404
    # Someone else's playback, even an admin's: 404.
    stolen = await api.http.get(
        f"{PLAYBACKS}/{playback}/segments/{yard_rows[0].id}", headers=bearer(admin)
    )
    assert stolen.status_code == 404
    # Raw recordings need an open break-glass grant.
    raw = await api.http.get(
        "/api/v1/recordings/timeline",
        headers=bearer(admin),
        params={**query(yard), "stream": "raw"},
    )
    assert raw.status_code == 404
