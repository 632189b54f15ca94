"""Erasing recorded video for a person filmed: four eyes, holds, shredding, verify, resume."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lensguard.access.principal import Principal
from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from lensguard.identity.authn import user_principal
from lensguard.privacy import recording_erasure
from lensguard.privacy.erasure import certificate_statement
from lensguard.privacy.erasure_models import ErasureRequest
from lensguard.recordings.index import wrapped_key
from lensguard.recordings.keys import KeyUnavailable
from lensguard.recordings.models import OpenRecording, RecordingSegment
from lensguard.recordings.serve import SegmentShredded, serve_segment
from lensguard.recordings.store import SegmentNotFound
from lensguard.recordings.trim import TRIM_ACTION
from lensguard.store.models import User
from tests.api.conftest import Api, bearer, build_api
from tests.recordings.playback_support import add_device
from tests.recordings.retention_support import SECONDS, record, rows_of, verified

BASE = "/api/v1/privacy/erasures"
RECORDINGS = f"{BASE}/recordings"
REASON = "person filmed asked, ticket 2026-204"


async def app_on(make_settings: Any, url: str, clock: ManualClock, **privacy: Any) -> Any:
    settings = make_settings(
        database={"url": url},
        limits={"requests_per_minute": 100_000},
        privacy=privacy,
        security={"authentication": {"token_expiry": 86_400}},
    )
    return build_api(settings, clock=clock)


@pytest.fixture
async def api_both(
    make_settings: Any, db_url: str, manual_clock: ManualClock
) -> AsyncIterator[Api]:
    async for api in await app_on(make_settings, db_url, manual_clock):
        yield api


@pytest.fixture
async def api(make_settings: Any, sqlite_url: str, manual_clock: ManualClock) -> AsyncIterator[Api]:
    async for value in await app_on(make_settings, sqlite_url, manual_clock):
        yield value


async def recorded(api: Api, device: str, start: datetime, count: int) -> list[RecordingSegment]:
    """A sealed, anchored recording of ``count`` 4 s segments back to back from ``start``."""
    vault = api.identity.recordings
    starts = [start + timedelta(seconds=SECONDS * i) for i in range(count)]
    _, rows = await record(
        vault.db, vault.store, vault.ring, vault.audit, device_id=device, starts=starts
    )
    return rows


def body(start: datetime, end: datetime, **scope: str) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat(), "reason": REASON, **scope}


async def principal(api: Api, username: str) -> Principal:
    async with api.identity.db.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user_principal(api.identity, user, session_id=None, jti=None)


async def actions(api: Api, action: str) -> list[dict[str, Any]]:
    async with api.identity.db.sessions() as session:
        found = await session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        )
        return [json.loads(d) for d in found.all()]


async def test_a_second_officer_shreds_the_range_and_verify_still_passes(api_both: Api) -> None:
    api = api_both
    root = await api.token_for("root", "admin")
    olga = await api.token_for("olga", "admin")
    gate = await add_device(api, root, "gate", "dock")
    yard = await add_device(api, root, "yard", "dock")
    start = api.identity.clock.now() - timedelta(hours=1)
    rows = await recorded(api, gate, start, 8)
    others = await recorded(api, yard, start, 3)
    # From inside segment 2 to inside segment 5: segments 2 to 5 touch it and go whole.
    first, last = rows[2].started_at + timedelta(seconds=1), rows[5].ended_at - timedelta(seconds=1)
    vault = api.identity.recordings
    kept_bytes = await vault.store.get(rows[3].id)

    asked = await api.http.post(
        RECORDINGS, headers=bearer(root), json=body(first, last, device_id=gate)
    )
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    assert asked.json()["kind"] == "recordings" and asked.json()["state"] == "pending"
    assert asked.json()["user_id"] is None and asked.json()["device_id"] == gate
    again = await api.http.post(
        RECORDINGS, headers=bearer(root), json=body(first, last, device_id=gate)
    )
    assert again.status_code == 409 and request_id in again.json()["detail"]
    own = await api.http.post(f"{BASE}/{request_id}/approve", headers=bearer(root))
    assert own.status_code == 403 and "four eyes" in own.json()["detail"]
    assert len(await rows_of(api.identity.db, rows[0].recording_id)) == 8

    done = await api.http.post(f"{BASE}/{request_id}/approve", headers=bearer(olga))
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["state"] == "done" and answer["segments"] == 4
    certificate = answer["certificate"]
    assert certificate["kind"] == "recordings"
    assert certificate["erased"] == {"segments": 4, "bytes": sum(r.size for r in rows[2:6])}
    assert certificate["scope"]["devices"] == [gate]
    assert certificate["range"] == {"from": first.isoformat(), "to": last.isoformat()}
    public = api.identity.audit.checkpoint_public_key
    public.verify(bytes.fromhex(certificate["signature"]), certificate_statement(certificate))

    left = await rows_of(api.identity.db, rows[0].recording_id)
    assert [r.seq for r in left] == [0, 1, 6, 7]
    for gone in rows[2:6]:
        with pytest.raises(SegmentNotFound):
            await vault.store.get(gone.id)
    assert kept_bytes  # the media was there before, and is gone now
    report = await verified(api.identity.db, vault.store, rows[0].recording_id)
    assert report.ok, report.problems
    assert report.trimmed == 4 and report.anchored
    untouched = await verified(api.identity.db, vault.store, others[0].recording_id)
    assert untouched.ok and untouched.segments == 3
    trail = await api.identity.audit.verify(api.identity.db)
    assert trail.ok, trail.reason
    cuts = await actions(api, TRIM_ACTION)
    assert [(c["reason"], c["erasure_request"], c["segments"]) for c in cuts] == [
        ("erasure", request_id, 4)
    ]
    # What remains still plays; what went is no longer listed.
    listed = await api.http.get(
        "/api/v1/recordings/segments",
        headers=bearer(root),
        params={
            "device_id": gate,
            "start": (start - timedelta(minutes=1)).isoformat(),
            "end": api.identity.clock.now().isoformat(),
        },
    )
    assert listed.status_code == 200, listed.text
    assert {s["id"] for s in listed.json()["items"]} == {r.id for r in left}

    same = await api.http.post(f"{BASE}/{request_id}/approve", headers=bearer(olga))
    assert same.json()["certificate"] == certificate  # done once; approving again changes nothing
    erased = [d for d in await actions(api, "privacy.erasure") if d.get("kind") == "recordings"]
    assert len(erased) == 1 and erased[0]["erased"]["segments"] == 4
    read = await api.http.get(f"{BASE}/{request_id}", headers=bearer(root))
    assert read.status_code == 200 and read.json()["certificate"] == certificate


async def test_a_legal_hold_refuses_and_names_itself(api: Api) -> None:
    root = await api.token_for("root", "admin")
    olga = await api.token_for("olga", "admin")
    gate = await add_device(api, root, "gate", "dock")
    start = api.identity.clock.now() - timedelta(hours=1)
    rows = await recorded(api, gate, start, 4)
    first, last = rows[0].started_at, rows[-1].ended_at

    asked = await api.http.post(
        RECORDINGS, headers=bearer(root), json=body(first, last, device_id=gate)
    )
    assert asked.status_code == 201, asked.text
    # A hold placed after the request, touching only the last segment, stops the approval.
    held = await api.http.post(
        f"/api/v1/devices/{gate}/holds",
        headers=bearer(root),
        json={
            "reason": "case 7 subpoena",
            "start": rows[-1].started_at.isoformat(),
            "end": (last + timedelta(hours=1)).isoformat(),
        },
    )
    assert held.status_code == 201, held.text
    hold_id = held.json()["id"]
    refused = await api.http.post(f"{BASE}/{asked.json()['id']}/approve", headers=bearer(olga))
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert hold_id in refused.json()["detail"] and "legal hold" in refused.json()["detail"]
    assert len(await rows_of(api.identity.db, rows[0].recording_id)) == 4
    async with api.identity.db.sessions() as session:
        row = await session.get(ErasureRequest, asked.json()["id"])
        assert row is not None and row.state == "pending"

    # A new request over the held range is refused at once.
    again = await api.http.post(
        RECORDINGS,
        headers=bearer(root),
        json=body(first, last - timedelta(seconds=1), device_id=gate),
    )
    assert again.status_code == 409 and hold_id in again.json()["detail"]
    # A range before the hold is fine.
    before = await api.http.post(
        RECORDINGS,
        headers=bearer(root),
        json=body(first, rows[-1].started_at, device_id=gate),
    )
    assert before.status_code == 201, before.text
    done = await api.http.post(f"{BASE}/{before.json()['id']}/approve", headers=bearer(olga))
    assert done.status_code == 200 and done.json()["segments"] == 3


async def refused(api: Api, token: str, payload: dict[str, Any], status: int, words: str) -> None:
    answer = await api.http.post(RECORDINGS, headers=bearer(token), json=payload)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert words in json.dumps(answer.json()), answer.json()


async def test_bad_input_and_who_may_ask(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock
) -> None:
    async for api in await app_on(make_settings, sqlite_url, manual_clock, erasure_four_eyes=False):
        root = await api.token_for("root", "admin")
        otto = await api.token_for("otto", "operator")
        gate = await add_device(api, root, "gate", "dock")
        now = api.identity.clock.now()
        hour = timedelta(hours=1)

        await refused(
            api, root, body(now - hour, now, device_id="no-such-device"), 404, "no such device"
        )
        await refused(api, root, body(now - hour, now, site="nowhere"), 404, "no such site")
        await refused(
            api, root, body(now, now - hour, device_id=gate), 422, "start must be before end"
        )
        await refused(api, root, body(now, now, device_id=gate), 422, "start must be before end")
        await refused(api, root, body(now - hour, now + hour, device_id=gate), 422, "in the future")
        await refused(
            api,
            root,
            body(now - timedelta(days=40), now, device_id=gate),
            422,
            "recording_erasure_max_days",
        )
        await refused(
            api, root, body(now - hour, now, device_id=gate, site="dock"), 422, "not both"
        )
        await refused(api, root, body(now - hour, now), 422, "not both")
        naive = body(now - hour, now, device_id=gate) | {"start": "2026-01-01T10:00:00"}
        await refused(api, root, naive, 422, "timezone")
        denied = await api.http.post(
            RECORDINGS, headers=bearer(otto), json=body(now - hour, now, device_id=gate)
        )
        assert denied.status_code == 403

        # An empty range is done with nothing erased; with four eyes off one officer may do both.
        empty = await api.http.post(
            RECORDINGS, headers=bearer(root), json=body(now - hour, now, device_id=gate)
        )
        assert empty.status_code == 201, empty.text
        done = await api.http.post(f"{BASE}/{empty.json()['id']}/approve", headers=bearer(root))
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "done" and done.json()["segments"] == 0
        assert done.json()["certificate"]["erased"]["segments"] == 0
        assert "nothing to erase" in done.json()["certificate"]["note"]


async def test_a_site_erasure_takes_every_device_of_the_site(api: Api) -> None:
    root = await api.token_for("root", "admin")
    olga = await api.token_for("olga", "admin")
    gate = await add_device(api, root, "gate", "dock")
    yard = await add_device(api, root, "yard", "dock")
    away = await add_device(api, root, "away", "office")
    start = api.identity.clock.now() - timedelta(hours=1)
    for device in (gate, yard, away):
        await recorded(api, device, start, 2)
    end = start + timedelta(seconds=2 * SECONDS)
    asked = await api.http.post(
        RECORDINGS, headers=bearer(root), json=body(start, end, site="dock")
    )
    assert asked.status_code == 201, asked.text
    done = await api.http.post(f"{BASE}/{asked.json()['id']}/approve", headers=bearer(olga))
    assert done.status_code == 200, done.text
    assert done.json()["segments"] == 4
    assert sorted(done.json()["certificate"]["scope"]["devices"]) == sorted([gate, yard])
    async with api.identity.db.sessions() as session:
        remaining = await session.scalars(select(RecordingSegment.device_id))
        assert list(remaining.all()) == [away, away]


async def test_a_crash_midway_is_finished_by_approving_again(api: Api) -> None:
    root = await api.token_for("root", "admin")
    await api.add_user("olga", "admin")
    gate = await add_device(api, root, "gate", "dock")
    start = api.identity.clock.now() - timedelta(hours=1)
    rows = await recorded(api, gate, start, 5)
    asked = await api.http.post(
        RECORDINGS,
        headers=bearer(root),
        json=body(rows[1].started_at, rows[3].ended_at, device_id=gate),
    )
    request_id = asked.json()["id"]
    olga = await principal(api, "olga")

    def crash(step: str) -> None:
        if step == "keys":
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        await recording_erasure.approve(
            api.identity, request_id, by=olga, address=None, crash=crash
        )
    # The keys went first: the segments can never be read again, though their rows remain.
    vault = api.identity.recordings
    left = {r.seq: r for r in await rows_of(api.identity.db, rows[0].recording_id)}
    assert sorted(left) == [0, 1, 2, 3, 4]
    shredded = left[1]
    assert wrapped_key(shredded) is None
    with pytest.raises(KeyUnavailable):
        vault.ring.unwrap(wrapped_key(shredded))
    with pytest.raises(SegmentShredded):
        await serve_segment(vault.store, vault.ring, shredded, None)
    playable = await serve_segment(vault.store, vault.ring, left[0], None)
    assert playable.total > 0
    async with api.identity.db.sessions() as session:
        row = await session.get(ErasureRequest, request_id)
        assert row is not None and row.state == "pending" and row.segments == 0

    finished = await recording_erasure.approve(api.identity, request_id, by=olga, address=None)
    assert finished.state == "done" and finished.segments == 3
    assert finished.certificate is not None and finished.certificate["erased"]["segments"] == 3
    assert [r.seq for r in await rows_of(api.identity.db, rows[0].recording_id)] == [0, 4]
    report = await verified(api.identity.db, vault.store, rows[0].recording_id)
    assert report.ok, report.problems
    # Done: approving once more runs nothing and counts nothing twice.
    again = await recording_erasure.approve(api.identity, request_id, by=olga, address=None)
    assert again.certificate == finished.certificate
    assert len(await actions(api, TRIM_ACTION)) == 1


async def test_a_device_still_recording_into_the_range_is_refused(api: Api) -> None:
    root = await api.token_for("root", "admin")
    olga = await api.token_for("olga", "admin")
    gate = await add_device(api, root, "gate", "dock")
    start = api.identity.clock.now() - timedelta(minutes=5)
    rows = await recorded(api, gate, start, 3)
    async with api.identity.db.transaction() as session:
        session.add(
            OpenRecording(
                recording_id=rows[0].recording_id,
                device_id=gate,
                stream="processed",
                node_id="node-a",
                started_at=start,
            )
        )
    asked = await api.http.post(
        RECORDINGS,
        headers=bearer(root),
        json=body(rows[1].started_at, rows[-1].ended_at, device_id=gate),
    )
    assert asked.status_code == 201, asked.text
    refused = await api.http.post(f"{BASE}/{asked.json()['id']}/approve", headers=bearer(olga))
    assert refused.status_code == 409
    assert "still recording" in refused.json()["detail"]
    assert len(await rows_of(api.identity.db, rows[0].recording_id)) == 3
    # Once the recording has moved past the range (sealed here), the approval runs.
    async with api.identity.db.transaction() as session:
        open_row = await session.get(OpenRecording, rows[0].recording_id)
        assert open_row is not None
        await session.delete(open_row)
    done = await api.http.post(f"{BASE}/{asked.json()['id']}/approve", headers=bearer(olga))
    assert done.status_code == 200 and done.json()["segments"] == 2
