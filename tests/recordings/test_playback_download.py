"""A range download is one playable WebM, export-only, audited; a flipped byte sends nothing.
SQLite and PostgreSQL; local and S3."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import av
import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from lensguard.monitor.event import SecurityEvent
from lensguard.recordings import index
from tests.api.conftest import Api, bearer
from tests.recordings.playback_support import FRAMES, add_device, playback_app, record, span

DOWNLOAD = "/api/v1/recordings/download"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.process)])
async def api(
    request: pytest.FixtureRequest, make_settings: Any, db_url: str, manual_clock: ManualClock
) -> AsyncIterator[Api]:
    async for value in playback_app(request, make_settings, db_url, manual_clock, request.param):
        yield value


def frames_of(data: bytes) -> int:
    with av.open(io.BytesIO(data), "r") as container:
        return len(list(container.decode(video=0)))


async def test_a_range_downloads_as_one_playable_webm(api: Api) -> None:
    admin = await api.token_for("ada", "admin")
    device = await add_device(api, admin, "gate", "dock")
    start = api.identity.clock.now() - timedelta(hours=1)
    rows = await record(api, device, start, 4, gap_before=frozenset({2}))
    query = {"device_id": device, **span(rows[0].started_at, rows[-1].ended_at)}
    response = await api.http.get(DOWNLOAD, headers=bearer(admin), params=query)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/webm"
    assert response.headers["content-disposition"].startswith('attachment; filename="recording-')
    assert frames_of(response.content) == 4 * FRAMES
    async with api.identity.db.sessions() as session:
        (details,) = (
            await session.execute(
                select(AuditEntry.details).where(AuditEntry.action == "recording.downloaded")
            )
        ).scalars()
    assert json.loads(details)["segments"] == 4
    watched = await api.http.get(
        "/api/v1/recordings/access", headers=bearer(admin), params={"device_id": device}
    )
    assert [i["action"] for i in watched.json()["items"]] == ["downloaded"]

    operator = await api.token_for("olly", "operator")
    assert (await api.http.get(DOWNLOAD, headers=bearer(operator), params=query)).status_code == 403
    yard_admin = await api.token_for("yan", "admin", sites=["yard"])
    assert (
        await api.http.get(DOWNLOAD, headers=bearer(yard_admin), params=query)
    ).status_code == 404
    long = {**query, **span(rows[0].started_at, rows[0].started_at + timedelta(hours=2))}
    assert (await api.http.get(DOWNLOAD, headers=bearer(admin), params=long)).status_code == 422
    empty = {**query, **span(start - timedelta(hours=3), start - timedelta(hours=2))}
    assert (await api.http.get(DOWNLOAD, headers=bearer(admin), params=empty)).status_code == 404


async def test_a_tampered_or_shredded_range_sends_nothing(api: Api) -> None:
    admin = await api.token_for("ada", "admin")
    device = await add_device(api, admin, "gate", "dock")
    start = api.identity.clock.now() - timedelta(hours=1)
    rows = await record(api, device, start, 3)
    events: list[SecurityEvent] = []
    api.identity.events.subscribe(events.append, name="test")
    store = api.identity.recordings.store
    stored = bytearray(await store.get(rows[1].id))
    stored[100] ^= 0x80
    await store.put(rows[1].id, bytes(stored))
    query = {"device_id": device, **span(rows[0].started_at, rows[-1].ended_at)}
    refused = await api.http.get(DOWNLOAD, headers=bearer(admin), params=query)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith(":recording-integrity")
    assert [e.resource for e in events if e.type == "recording.tampered"] == [device]

    async with api.identity.db.transaction() as session:
        await index.shred(session, [rows[2].id])
    tail = {"device_id": device, **span(rows[2].started_at, rows[2].ended_at)}
    gone = await api.http.get(DOWNLOAD, headers=bearer(admin), params=tail)
    assert gone.status_code == 410
