"""Real recordings for playback tests: VP8 muxed into WebM, encrypted through the app's vault."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from lensguard.clock import ManualClock
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.muxer import SegmentMuxer
from lensguard.recordings.segments import write_segment
from lensguard.recordings.store import new_segment_id
from tests.api.conftest import Api, bearer, build_api
from tests.recordings.conftest import make_s3_store
from tests.recordings.vp8 import encode

SEGMENT = timedelta(seconds=2)
FRAMES = 12
"""Frames in each test segment (real VP8, small so tests stay quick)."""


@functools.cache
def webm(index: int) -> bytes:
    """A whole WebM segment of real VP8 frames (a few dozen KiB), cached per index."""
    frames = encode(FRAMES, size=(160, 120), first_pts=index * FRAMES * 3000)
    muxer = SegmentMuxer()
    for frame in frames:
        muxer.add(frame.data, frame.pts // 90, frame.keyframe)
    return muxer.finish().data


async def record(
    api: Api,
    device_id: str,
    start: datetime,
    count: int,
    *,
    stream: str = "processed",
    gap_before: frozenset[int] = frozenset(),
) -> list[RecordingSegment]:
    """``count`` segments of 2 s from ``start`` as one recording (a 10 s gap before the
    indices in ``gap_before``), stored and indexed by the app's own vault."""
    vault = api.identity.recordings
    recording_id = new_segment_id()
    rows, at = [], start
    for i in range(count):
        if i in gap_before:
            at += timedelta(seconds=10)
        rows.append(
            await write_segment(
                vault.db,
                vault.store,
                vault.ring_for(stream),
                recording_id=recording_id,
                device_id=device_id,
                stream=stream,
                started_at=at,
                ended_at=at + SEGMENT,
                plaintext=webm(i % 3),
                chunk_size=512,
            )
        )
        at += SEGMENT
    return rows


async def add_device(api: Api, admin: str, name: str, site: str) -> str:
    response = await api.http.post(
        "/api/v1/devices",
        headers=bearer(admin),
        json={"name": name, "site": site, "kind": "camera"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["device"]["id"])


def span(start: datetime, end: datetime) -> dict[str, Any]:
    return {"start": start.isoformat(), "end": end.isoformat()}


async def playback_app(
    request: pytest.FixtureRequest,
    make_settings: Any,
    db_url: str,
    clock: ManualClock,
    storage: str = "local",
) -> AsyncIterator[Api]:
    """The app on ``db_url`` and the manual clock, its recordings in ``storage`` (local, s3)."""
    settings = make_settings(
        database={"url": db_url},
        limits={"requests_per_minute": 100_000},
        # Tokens outlive the grants tests move the clock past (a day is the most allowed).
        security={"authentication": {"token_expiry": 86_400}},
    )
    async for api in build_api(settings, clock=clock):
        if storage == "s3":
            api.identity.recordings.store = make_s3_store(request.getfixturevalue("s3_endpoint"))
        yield api
