"""Playback over the API on real encrypted recordings: timeline, segments, Range, integrity.

Every test runs on SQLite and PostgreSQL, with the local store and with S3 (moto).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from lensguard.monitor.event import SecurityEvent
from lensguard.recordings import index
from lensguard.recordings.models import RecordingSegment
from lensguard.severity import Severity
from tests.api.conftest import Api, bearer
from tests.recordings.playback_support import (
    SEGMENT,
    add_device,
    playback_app,
    record,
    span,
    webm,
)

TIMELINE, SEGMENTS, PLAYBACKS = (
    "/api/v1/recordings/timeline",
    "/api/v1/recordings/segments",
    "/api/v1/recordings/playbacks",
)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.process)])
async def api(
    request: pytest.FixtureRequest, make_settings: Any, db_url: str, manual_clock: ManualClock
) -> AsyncIterator[Api]:
    async for value in playback_app(request, make_settings, db_url, manual_clock, request.param):
        yield value


async def actions(api: Api, prefix: str = "recording.") -> list[tuple[str, str, dict[str, Any]]]:
    async with api.identity.db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.seq)
        )
        return [(a, o, json.loads(d)) for a, o, d in rows.all()]


async def setup(api: Api, **kwargs: Any) -> tuple[str, str, list[RecordingSegment]]:
    admin = await api.token_for("ada", "admin")
    device = await add_device(api, admin, "gate", "dock")
    start = api.identity.clock.now() - timedelta(hours=1)
    rows = await record(api, device, start, 5, **kwargs)
    return admin, device, rows


async def open_playback(api: Api, token: str, device: str, rows: list[RecordingSegment]) -> str:
    body = {"device_id": device, **span(rows[0].started_at, rows[-1].ended_at)}
    response = await api.http.post(PLAYBACKS, headers=bearer(token), json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_timeline_and_segments_show_gaps_and_page_with_cursors(api: Api) -> None:
    admin, device, rows = await setup(api, gap_before=frozenset({3}))
    query = {"device_id": device, **span(rows[0].started_at - SEGMENT, rows[-1].ended_at)}
    timeline = await api.http.get(TIMELINE, headers=bearer(admin), params=query)
    assert timeline.status_code == 200, timeline.text
    ranges = timeline.json()["ranges"]
    assert len(ranges) == 2
    assert ranges[0]["end"] == rows[2].ended_at.isoformat().replace("+00:00", "Z")

    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {**query, "limit": 2}
    pages = 0
    while True:
        page = await api.http.get(SEGMENTS, headers=bearer(admin), params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        seen.extend(body["items"])
        pages += 1
        if body["next_cursor"] is None:
            assert "link" not in page.headers
            break
        assert 'rel="next"' in page.headers["link"]
        params["cursor"] = body["next_cursor"]
    assert pages == 3
    assert [s["id"] for s in seen] == [r.id for r in rows]
    assert [s["after_gap"] for s in seen] == [False, False, False, True, False]

    too_long = {**query, **span(rows[0].started_at, rows[0].started_at + timedelta(hours=25))}
    assert (await api.http.get(TIMELINE, headers=bearer(admin), params=too_long)).status_code == 422
    naive = {**query, "start": "2026-12-04T10:00:00", "end": "2026-12-04T11:00:00"}
    refused = await api.http.get(TIMELINE, headers=bearer(admin), params=naive)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    bad_cursor = await api.http.get(
        SEGMENTS, headers=bearer(admin), params={**query, "cursor": "abc"}
    )
    assert bad_cursor.status_code == 422


async def test_segments_play_verified_with_http_range_edges(api: Api) -> None:
    admin, device, rows = await setup(api)
    playback = await open_playback(api, admin, device, rows)
    url = f"{PLAYBACKS}/{playback}/segments/{rows[1].id}"
    plain = webm(1)
    total = len(plain)
    whole = await api.http.get(url, headers=bearer(admin))
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/webm"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.content == plain

    async def ranged(spec: str) -> Any:
        return await api.http.get(url, headers=bearer(admin) | {"Range": spec})

    cases = {
        "bytes=0-0": (0, 0),
        f"bytes={total - 1}-{total - 1}": (total - 1, total - 1),
        "bytes=-100": (total - 100, total - 1),
        "bytes=500-1100": (500, 1100),  # crosses two chunk boundaries (512 B chunks)
        "bytes=10-": (10, total - 1),
        f"bytes=5-{total + 500}": (5, total - 1),
        "bytes=0-1, 20-30": (0, 1),  # only the first range is served
    }
    for spec, (first, last) in cases.items():
        response = await ranged(spec)
        assert response.status_code == 206, (spec, response.text)
        assert response.headers["content-range"] == f"bytes {first}-{last}/{total}", spec
        assert response.content == plain[first : last + 1], spec
    for spec in (f"bytes={total}-", f"bytes={total + 10}-{total + 20}", "bytes=-0"):
        refused = await ranged(spec)
        assert refused.status_code == 416, spec
        assert refused.headers["content-range"] == f"bytes */{total}"
        assert refused.headers["content-type"] == "application/problem+json"
    full_range = await ranged(f"bytes=0-{total - 1}")
    assert full_range.status_code == 206 and full_range.content == plain
    garbage = await ranged("pages=1-2")
    assert garbage.status_code == 200 and garbage.content == plain

    seek_at = rows[2].started_at + timedelta(milliseconds=700)
    seek = await api.http.post(
        f"{PLAYBACKS}/{playback}/seeks", headers=bearer(admin), json={"at": seek_at.isoformat()}
    )
    assert seek.status_code == 200, seek.text
    assert seek.json()["segment"]["id"] == rows[2].id
    outside = rows[-1].ended_at + timedelta(minutes=5)
    missed = await api.http.post(
        f"{PLAYBACKS}/{playback}/seeks", headers=bearer(admin), json={"at": outside.isoformat()}
    )
    assert missed.status_code == 404
    audited = await actions(api)
    viewed = [d for a, _, d in audited if a == "recording.viewed"]
    seeked = [d for a, _, d in audited if a == "recording.seeked"]
    assert len(viewed) == 1 and viewed[0]["playback_id"] == playback
    assert viewed[0]["start"] == rows[0].started_at.isoformat()
    assert [d["segment_id"] for d in seeked] == [rows[2].id]


async def test_a_flipped_byte_is_refused_reported_and_never_served(api: Api) -> None:
    admin, device, rows = await setup(api)
    events: list[SecurityEvent] = []
    api.identity.events.subscribe(events.append, name="test")
    playback = await open_playback(api, admin, device, rows)
    store = api.identity.recordings.store
    target = rows[3]
    stored = bytearray(await store.get(target.id))
    stored[-40] ^= 0x01  # inside the last chunk
    await store.put(target.id, bytes(stored))
    url = f"{PLAYBACKS}/{playback}/segments/{target.id}"

    whole = await api.http.get(url, headers=bearer(admin))
    assert whole.status_code == 409
    assert whole.headers["content-type"] == "application/problem+json"
    assert whole.json()["type"].endswith(":recording-integrity")
    tail = await api.http.get(url, headers=bearer(admin) | {"Range": "bytes=-10"})
    assert tail.status_code == 409
    # A range whose chunks all verify is served: only verified bytes, never the flipped one.
    head = await api.http.get(url, headers=bearer(admin) | {"Range": "bytes=0-99"})
    assert head.status_code == 206 and head.content == webm(3 % 3)[:100]

    tampered = [e for e in events if e.type == "recording.tampered"]
    assert len(tampered) == 2
    assert tampered[0].severity is Severity.HIGH and tampered[0].resource == device
    assert tampered[0].fields["segment_id"] == target.id
    rows_audited = [(o, d) for a, o, d in await actions(api) if a == "recording.tampered"]
    assert len(rows_audited) == 2 and rows_audited[0][0] == "failure"
    assert rows_audited[0][1]["device_id"] == device


async def test_a_shredded_segment_is_gone(api: Api) -> None:
    admin, device, rows = await setup(api)
    playback = await open_playback(api, admin, device, rows)
    async with api.identity.db.transaction() as session:
        assert await index.shred(session, [rows[0].id]) == 1
    response = await api.http.get(
        f"{PLAYBACKS}/{playback}/segments/{rows[0].id}", headers=bearer(admin)
    )
    assert response.status_code == 410
    assert response.json()["type"].endswith(":recording-shredded")
    assert "deleted" in response.json()["detail"]
    still = await api.http.get(
        f"{PLAYBACKS}/{playback}/segments/{rows[1].id}", headers=bearer(admin)
    )
    assert still.status_code == 200


async def test_a_playback_lasts_an_hour_on_the_clock(api: Api, manual_clock: ManualClock) -> None:
    admin, device, rows = await setup(api)
    playback = await open_playback(api, admin, device, rows)
    url = f"{PLAYBACKS}/{playback}/segments/{rows[0].id}"
    await manual_clock.advance(3599)
    assert (await api.http.get(url, headers=bearer(admin))).status_code == 200
    await manual_clock.advance(1)
    ended = await api.http.get(url, headers=bearer(admin))
    assert ended.status_code == 404
    assert "lasts an hour" in ended.json()["detail"]
    seek = await api.http.post(
        f"{PLAYBACKS}/{playback}/seeks",
        headers=bearer(admin),
        json={"at": rows[0].started_at.isoformat()},
    )
    assert seek.status_code == 404
    ended_rows = [(o, d["reason"]) for a, o, d in await actions(api) if a.endswith("ended")]
    assert ended_rows == [("denied", "expired")]
