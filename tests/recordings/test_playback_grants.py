"""Sharing recordings with grants: bounded by range and time, revocable, audited; raw
playback through break-glass; who watched what. SQLite and PostgreSQL; local and S3."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from lensguard.identity.auditing import audit_event
from lensguard.recordings.models import RecordingSegment
from tests.api.conftest import Api, bearer
from tests.recordings.playback_support import add_device, playback_app, record, span

GRANTS, PLAYBACKS = "/api/v1/recordings/grants", "/api/v1/recordings/playbacks"
TIMELINE, SEGMENTS = "/api/v1/recordings/timeline", "/api/v1/recordings/segments"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.process)])
async def api(
    request: pytest.FixtureRequest, make_settings: Any, db_url: str, manual_clock: ManualClock
) -> AsyncIterator[Api]:
    async for value in playback_app(request, make_settings, db_url, manual_clock, request.param):
        yield value


async def audited(api: Api, action: str) -> list[tuple[str, dict[str, Any]]]:
    async with api.identity.db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        )
        return [(outcome, json.loads(details)) for outcome, details in rows.all()]


async def shared(
    api: Api,
) -> tuple[str, str, str, list[RecordingSegment], dict[str, Any]]:
    """An admin, a dock device with 5 segments, and a yard operator granted segments 1-2."""
    admin = await api.token_for("ada", "admin")
    device = await add_device(api, admin, "gate", "dock")
    start = api.identity.clock.now() - timedelta(hours=1)
    rows = await record(api, device, start, 5)
    olly = await api.token_for("olly", "operator", sites=["yard"])
    olly_id = (await api.http.get("/api/v1/users/me", headers=bearer(olly))).json()["id"]
    body = {
        "device_id": device,
        **span(rows[1].started_at, rows[2].ended_at),
        "user_id": olly_id,
        "hours": 1,
    }
    created = await api.http.post(GRANTS, headers=bearer(admin), json=body)
    assert created.status_code == 201, created.text
    return admin, olly, device, rows, created.json()


async def test_a_grant_shows_its_range_only_and_its_expiry_stops_playback(
    api: Api, manual_clock: ManualClock
) -> None:
    admin, olly, device, rows, grant = await shared(api)
    assert grant["active"] is True
    whole = {"device_id": device, **span(rows[0].started_at, rows[-1].ended_at)}
    timeline = await api.http.get(TIMELINE, headers=bearer(olly), params=whole)
    assert timeline.status_code == 200, timeline.text
    ranges = timeline.json()["ranges"]
    assert len(ranges) == 1
    assert ranges[0]["start"] == grant["start"] and ranges[0]["end"] == grant["end"]
    listed = await api.http.get(SEGMENTS, headers=bearer(olly), params=whole)
    assert [s["id"] for s in listed.json()["items"]] == [rows[1].id, rows[2].id]

    opened = await api.http.post(PLAYBACKS, headers=bearer(olly), json=whole)
    assert opened.status_code == 201, opened.text
    playback = opened.json()
    assert (playback["start"], playback["end"]) == (grant["start"], grant["end"])
    assert playback["expires_at"] == grant["expires_at"]
    url = f"{PLAYBACKS}/{playback['id']}/segments"
    assert (await api.http.get(f"{url}/{rows[1].id}", headers=bearer(olly))).status_code == 200
    # Outside the grant's range: not served.
    assert (await api.http.get(f"{url}/{rows[4].id}", headers=bearer(olly))).status_code == 404

    await manual_clock.advance(3600)
    ended = await api.http.get(f"{url}/{rows[2].id}", headers=bearer(olly))
    assert ended.status_code == 404
    assert "grant it rests on expired" in ended.json()["detail"]
    again = await api.http.get(f"{url}/{rows[1].id}", headers=bearer(olly))
    assert again.status_code == 404
    assert [(o, d["reason"]) for o, d in await audited(api, "recording.playback_ended")] == [
        ("denied", "grant_expired")
    ]
    gone = await api.http.get(TIMELINE, headers=bearer(olly), params=whole)
    assert gone.status_code == 404
    listing = await api.http.get(GRANTS, headers=bearer(admin))
    assert [(g["id"], g["active"]) for g in listing.json()] == [(grant["id"], False)]


async def test_a_revoked_grant_ends_playback_at_the_next_segment(api: Api) -> None:
    admin, olly, device, rows, grant = await shared(api)
    window = {"device_id": device, **span(rows[1].started_at, rows[2].ended_at)}
    opened = await api.http.post(PLAYBACKS, headers=bearer(olly), json=window)
    url = f"{PLAYBACKS}/{opened.json()['id']}/segments"
    assert (await api.http.get(f"{url}/{rows[1].id}", headers=bearer(olly))).status_code == 200
    other_operator = await api.token_for("otto", "operator", sites=["yard"])
    foreign = await api.http.delete(f"{GRANTS}/{grant['id']}", headers=bearer(other_operator))
    assert foreign.status_code == 403  # operators cannot share (recording_export)
    revoked = await api.http.delete(f"{GRANTS}/{grant['id']}", headers=bearer(admin))
    assert revoked.status_code == 204
    refused = await api.http.get(f"{url}/{rows[2].id}", headers=bearer(olly))
    assert refused.status_code == 404
    assert "revoked" in refused.json()["detail"]
    assert [d["grant_id"] for _, d in await audited(api, "recording.grant_revoked")] == [
        grant["id"]
    ]
    assert [d["grant_id"] for _, d in await audited(api, "recording.grant_created")] == [
        grant["id"]
    ]
    # Revoking twice is fine and audited once.
    assert (
        await api.http.delete(f"{GRANTS}/{grant['id']}", headers=bearer(admin))
    ).status_code == 204
    assert len(await audited(api, "recording.grant_revoked")) == 1


async def test_grants_refuse_bad_input_and_foreign_devices(api: Api) -> None:
    admin = await api.token_for("ada", "admin")
    device = await add_device(api, admin, "gate", "dock")
    now = api.identity.clock.now()
    base = {"device_id": device, **span(now - timedelta(hours=2), now), "role": "operator"}
    viewer = await api.token_for("vic", "viewer")
    vic_id = (await api.http.get("/api/v1/users/me", headers=bearer(viewer))).json()["id"]
    cases = [
        {**base, "hours": 0},
        {**base, "hours": 721},
        {**base, "hours": 1, "user_id": vic_id},  # both a user and a role
        {**{k: v for k, v in base.items() if k != "role"}, "hours": 1},  # neither
        {**base, "hours": 1, "role": "viewer"},  # a role that cannot watch recordings
        {**base, "hours": 1, "role": None, "user_id": vic_id},  # nor can this user
        {**base, **span(now - timedelta(days=40), now), "hours": 1},  # range too long
    ]
    for body in cases:
        refused = await api.http.post(GRANTS, headers=bearer(admin), json=body)
        assert refused.status_code == 422, (body, refused.text)
    yard_admin = await api.token_for("yan", "admin", sites=["yard"])
    foreign = await api.http.post(GRANTS, headers=bearer(yard_admin), json={**base, "hours": 1})
    assert foreign.status_code == 404
    missing_user = {**base, "role": None, "user_id": "0123456789abcdef0123456789abcdef", "hours": 1}
    assert (
        await api.http.post(GRANTS, headers=bearer(admin), json=missing_user)
    ).status_code == 404
    created = await api.http.post(GRANTS, headers=bearer(admin), json={**base, "hours": 1})
    assert created.status_code == 201
    # The yard admin neither sees nor revokes the dock grant.
    assert (await api.http.get(GRANTS, headers=bearer(yard_admin))).json() == []
    gid = created.json()["id"]
    assert (await api.http.delete(f"{GRANTS}/{gid}", headers=bearer(yard_admin))).status_code == 404


async def test_a_role_grant_and_who_watched_what(api: Api) -> None:
    admin = await api.token_for("ada", "admin")
    device = await add_device(api, admin, "gate", "dock")
    start = api.identity.clock.now() - timedelta(hours=1)
    rows = await record(api, device, start, 3)
    window = {"device_id": device, **span(rows[0].started_at, rows[-1].ended_at)}
    otto = await api.token_for("otto", "operator", sites=["yard"])
    assert (await api.http.post(PLAYBACKS, headers=bearer(otto), json=window)).status_code == 404
    grant = {**window, "role": "operator", "hours": 2}
    assert (await api.http.post(GRANTS, headers=bearer(admin), json=grant)).status_code == 201
    opened = await api.http.post(PLAYBACKS, headers=bearer(otto), json=window)
    assert opened.status_code == 201
    playback = opened.json()["id"]
    at = rows[1].started_at + timedelta(milliseconds=10)
    seek = await api.http.post(
        f"{PLAYBACKS}/{playback}/seeks", headers=bearer(otto), json={"at": at.isoformat()}
    )
    assert seek.json()["segment"]["id"] == rows[1].id

    otto_id = (await api.http.get("/api/v1/users/me", headers=bearer(otto))).json()["id"]
    watched = await api.http.get(
        "/api/v1/recordings/access", headers=bearer(admin), params={"device_id": device}
    )
    assert watched.status_code == 200, watched.text
    items = watched.json()["items"]
    assert [(i["action"], i["actor"]["id"]) for i in items] == [
        ("seeked", otto_id),
        ("viewed", otto_id),
    ]
    assert items[0]["start"] == items[0]["end"]
    # An evidence export's row (as the export writes it) is listed as "exported".
    exported = audit_event(
        "recording.exported",
        resource_type="device",
        resource_id=device,
        export_id="0" * 32,
        start=rows[0].started_at.isoformat(),
        end=rows[1].ended_at.isoformat(),
    )
    async with api.identity.db.transaction() as session:
        await api.identity.audit.append(session, exported)
    listed = await api.http.get(
        "/api/v1/recordings/access", headers=bearer(admin), params={"device_id": device}
    )
    first = listed.json()["items"][0]
    assert (first["action"], first["actor"]["type"]) == ("exported", "system")
    assert first["start"] == rows[0].started_at.isoformat().replace("+00:00", "Z")
    paged = await api.http.get(
        "/api/v1/recordings/access", headers=bearer(admin), params={"device_id": device, "limit": 1}
    )
    assert len(paged.json()["items"]) == 1 and paged.json()["next_cursor"] is not None
    later = {
        "device_id": device,
        **span(rows[-1].ended_at + timedelta(hours=1), rows[-1].ended_at + timedelta(hours=2)),
    }
    assert (
        await api.http.get("/api/v1/recordings/access", headers=bearer(admin), params=later)
    ).json()["items"] == []
    assert (
        await api.http.get("/api/v1/recordings/access", headers=bearer(otto), params={})
    ).status_code == 403


async def test_raw_recordings_play_only_through_an_open_break_glass_grant(api: Api) -> None:
    admin = await api.token_for("ada", "admin")
    device = await add_device(api, admin, "gate", "dock")
    start = api.identity.clock.now() - timedelta(hours=1)
    rows = await record(api, device, start, 2, stream="raw")
    window = {"device_id": device, "stream": "raw", **span(rows[0].started_at, rows[-1].ended_at)}
    streams = await api.http.put(
        f"/api/v1/streams/{device}", headers=bearer(admin), json={"redact_faces": True}
    )
    assert streams.status_code == 200, streams.text
    ivy = await api.token_for("ivy", "investigator", sites=["dock"])
    assert (await api.http.post(PLAYBACKS, headers=bearer(ivy), json=window)).status_code == 404
    assert (await api.http.post(PLAYBACKS, headers=bearer(admin), json=window)).status_code == 404
    glass = await api.http.post(
        f"/api/v1/streams/{device}/break-glass",
        headers=bearer(ivy),
        json={"reason": "incident 7: who opened door 4", "minutes": 5},
    )
    assert glass.status_code == 201, glass.text
    opened = await api.http.post(PLAYBACKS, headers=bearer(ivy), json=window)
    assert opened.status_code == 201, opened.text
    url = f"{PLAYBACKS}/{opened.json()['id']}/segments"
    assert (await api.http.get(f"{url}/{rows[0].id}", headers=bearer(ivy))).status_code == 200
    (viewed,) = await audited(api, "recording.viewed")
    assert viewed[1]["stream"] == "raw" and viewed[1]["break_glass_id"] == glass.json()["id"]
    end = await api.http.delete(
        f"/api/v1/streams/{device}/break-glass/{glass.json()['id']}", headers=bearer(ivy)
    )
    assert end.status_code == 204
    refused = await api.http.get(f"{url}/{rows[1].id}", headers=bearer(ivy))
    assert refused.status_code == 404
    assert "break-glass" in refused.json()["detail"]
