"""The recording manager on a real app: policy changes start and seal recordings live.

The app runs in the test's loop on a hand-turned clock (``serve_in_process``); a real
agent publishes synthetic video over loopback WebRTC. Nobody watches: the manager
opens the relay itself, holds it open and records its processed fan-out into the
encrypted store, on SQLite and PostgreSQL, on the local store and on S3 (moto).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lensguard.agent.driver import SimulatedRobot
from lensguard.agent.runner import Agent, AgentConfig
from lensguard.agent.sources import SyntheticScene
from lensguard.clock import ManualClock
from lensguard.media.relay import IDLE_GRACE
from lensguard.recordings import index
from lensguard.recordings.gate import EventGate
from lensguard.recordings.keys import KeyUnavailable
from lensguard.recordings.models import OpenRecording, RecordingSegment
from lensguard.recordings.segments import read_segment
from lensguard.recordings.verify import verify_recording
from lensguard.services import Services
from tests.harness import s3
from tests.harness.ice import host_blocks
from tests.harness.inprocess import InProcessServer, serve_in_process

pytestmark = pytest.mark.slow
IO_WAIT = 60.0
"""Seconds real video, ICE and the store may take (real I/O, never a timer)."""


async def until(check: Callable[[], Awaitable[bool]], wait: float = IO_WAIT) -> None:
    """Poll real I/O until ``check`` holds (bounded)."""
    async with asyncio.timeout(wait):
        while not await check():
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def server_on(
    make_settings: Any, db_url: str, clock: ManualClock, **recordings: Any
) -> AsyncIterator[InProcessServer]:
    settings = make_settings(
        database={"url": db_url},
        limits={"requests_per_minute": 100_000},
        media={"ice": {"allow_remote_addresses": host_blocks()}},
        recordings={"segment_seconds": 2.0, "anchor_every": 2, **recordings},
    )
    async with serve_in_process(settings, clock) as server:
        await server.user("root", "admin")
        yield server


@contextlib.asynccontextmanager
async def publishing(
    server: InProcessServer, key: Path, clock: ManualClock
) -> AsyncIterator[Agent]:
    """A real agent publishing 320x240 synthetic video until the block ends."""
    robot = SimulatedRobot()
    scene = SyntheticScene(320, 240, fps=10, viewport=robot.viewport)
    config = AgentConfig(server=server.base_url, credential_file=key, ca_file=server.cert_path)
    agent = Agent(config, scene, robot, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await asyncio.wait_for(agent.online.wait(), IO_WAIT)
        yield agent
    finally:
        stop.set()
        await asyncio.wait_for(task, IO_WAIT)
        scene.stop()


async def new_device(
    server: InProcessServer, tmp_path: Path, site: str = "dock"
) -> tuple[str, Path]:
    device_id, credential = await server.device(f"cam-{uuid.uuid4().hex[:8]}", site)
    key = tmp_path / f"{device_id}.key"
    key.touch(mode=0o600)
    key.write_text(credential)
    return device_id, key


async def put(server: InProcessServer, token: str, path: str, body: dict[str, Any]) -> None:
    async with server.http() as http:
        answer = await http.put(path, headers={"Authorization": f"Bearer {token}"}, json=body)
    assert answer.status_code == 200, answer.text


async def segments(services: Services, device_id: str, stream: str = "processed") -> list[Any]:
    async with services.db.sessions() as session:
        rows = await session.execute(
            select(RecordingSegment)
            .where(RecordingSegment.device_id == device_id, RecordingSegment.stream == stream)
            .order_by(RecordingSegment.started_at)
        )
        return list(rows.scalars())


async def open_rows(services: Services, device_id: str) -> list[OpenRecording]:
    async with services.db.sessions() as session:
        rows = await session.execute(
            select(OpenRecording).where(OpenRecording.device_id == device_id)
        )
        return list(rows.scalars())


async def verified(services: Services, recording_id: str) -> index.Anchor | None:
    async with services.db.sessions() as session:
        report = await verify_recording(session, services.recordings.store, recording_id)
        assert report.ok, report.problems
        return await index.latest_anchor(session, recording_id)


async def test_continuous_on_records_without_viewers_and_off_seals(
    make_settings: Any, db_url: str, tmp_path: Path, manual_clock: ManualClock
) -> None:
    clock = manual_clock
    async with server_on(make_settings, db_url, clock) as server:
        services = server.services
        admin = await server.login("root")
        device_id, key = await new_device(server, tmp_path)
        async with publishing(server, key, clock):
            assert services.hub.media is not None
            assert device_id not in services.hub.media.relays  # nobody watches, nothing records
            await put(
                server, admin, f"/api/v1/streams/{device_id}", {"recording": {"mode": "continuous"}}
            )

            async def two_segments() -> bool:
                return len(await segments(services, device_id)) >= 2

            await until(two_segments)
            relay = services.hub.media.relays[device_id]
            assert relay.held and not relay.viewers
            status = await services.recorder.status(device_id)
            assert status.mode == "continuous" and status.recording
            recording_id = status.recording_id
            assert recording_id == services.recorder.recording(device_id)[0]

            # The idle close never ends a recording: the grace passes, the relay stays.
            await clock.advance(IDLE_GRACE * 3)
            assert not relay.closed
            await until(lambda: _more(services, device_id, 3))

            await put(server, admin, f"/api/v1/streams/{device_id}", {"recording": {"mode": "off"}})

            async def sealed() -> bool:
                return not (await services.recorder.status(device_id)).recording

            await until(sealed)
            assert recording_id is not None
            head = await verified(services, recording_id)
            assert head is not None and head.sealed
            rows = await segments(services, device_id)
            assert head.segments == len(rows) >= 3
            assert {(r.recording_id, r.stream) for r in rows} == {(recording_id, "processed")}
            plain = await _read(services, rows[0].id)
            assert plain[:4] == b"\x1a\x45\xdf\xa3"  # a WebM file
            # Released: with nobody watching, the relay closes after the grace.
            await services.recorder.settled()
            assert not relay.held
            await clock.advance(IDLE_GRACE + 1)
            await until(lambda: _closed(relay))
        assert await open_rows(services, device_id) == []


async def _more(services: Services, device_id: str, count: int) -> bool:
    return len(await segments(services, device_id)) >= count


async def _closed(relay: Any) -> bool:
    return bool(relay.closed)


async def _read(services: Services, segment_id: str, stream: str = "processed") -> bytes:
    async with services.db.sessions() as session:
        return await read_segment(
            session, services.recordings.store, services.recordings.ring_for(stream), segment_id
        )


async def test_a_publisher_that_drops_and_returns_makes_two_sealed_recordings(
    make_settings: Any, sqlite_url: str, tmp_path: Path, manual_clock: ManualClock
) -> None:
    clock = manual_clock
    async with server_on(make_settings, sqlite_url, clock) as server:
        services = server.services
        admin = await server.login("root")
        device_id, key = await new_device(server, tmp_path)
        await put(
            server, admin, f"/api/v1/streams/{device_id}", {"recording": {"mode": "continuous"}}
        )
        for _ in range(2):
            async with publishing(server, key, clock):
                wanted = len(await segments(services, device_id)) + 2
                await until(partial(_more, services, device_id, wanted))

            async def stopped() -> bool:
                return not (await services.recorder.status(device_id)).recording

            await until(stopped)  # the publisher left: the recording is sealed at once
            await clock.advance(30)  # it stays away for half a minute
        rows = await segments(services, device_id)
        first, second = sorted({r.recording_id for r in rows}, key=lambda i: _first(rows, i))
        for recording_id in (first, second):
            head = await verified(services, recording_id)
            assert head is not None and head.sealed
        # A gap in the timeline between them, never a segment across it.
        end_first = max(r.ended_at for r in rows if r.recording_id == first)
        start_second = min(r.started_at for r in rows if r.recording_id == second)
        assert start_second >= end_first


def _first(rows: list[Any], recording_id: str) -> Any:
    return min(r.started_at for r in rows if r.recording_id == recording_id)


async def test_on_demand_with_raw_on_s3_and_on_event_without_an_event(
    make_settings: Any,
    sqlite_url: str,
    tmp_path: Path,
    manual_clock: ManualClock,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.SECRET_KEY)
    bucket = f"lg-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=s3.ACCESS_KEY,
        aws_secret_access_key=s3.SECRET_KEY,
    ).create_bucket(Bucket=bucket)
    clock = manual_clock
    storage = {"storage": "s3", "s3": {"bucket": bucket, "endpoint": s3_endpoint}}
    async with server_on(make_settings, sqlite_url, clock, **storage) as server:
        services = server.services
        admin = await server.login("root")
        device_id, key = await new_device(server, tmp_path, site="vault")
        auth = {"Authorization": f"Bearer {admin}"}
        await put(
            server,
            admin,
            "/api/v1/sites/vault/policy",
            {"recording": {"mode": "on_demand", "record_raw": True}},
        )
        async with publishing(server, key, clock):
            await services.recorder.settled()
            assert services.recorder.streams(device_id) == []  # on_demand: nothing until asked
            async with server.http() as http:
                started = await http.post(f"/api/v1/devices/{device_id}/recording", headers=auth)
            assert started.status_code == 202, started.text

            async def both() -> bool:
                return (
                    len(await segments(services, device_id)) >= 2
                    and len(await segments(services, device_id, "raw")) >= 2
                )

            await until(both)
            async with server.http() as http:
                state = (
                    await http.get(f"/api/v1/devices/{device_id}/recording", headers=auth)
                ).json()
                assert state["recording"] and state["requested"] and state["mode"] == "on_demand"
                stopped = await http.delete(f"/api/v1/devices/{device_id}/recording", headers=auth)
            assert stopped.status_code == 200

            async def sealed() -> bool:
                return await open_rows(services, device_id) == []

            await until(sealed)
            processed = await segments(services, device_id)
            raw = await segments(services, device_id, "raw")
            assert {r.recording_id for r in processed}.isdisjoint({r.recording_id for r in raw})
            for recording_id in {r.recording_id for r in processed + raw}:
                head = await verified(services, recording_id)
                assert head is not None and head.sealed
            # Raw video has keys of its own: the processed ring cannot open it.
            assert (await _read(services, raw[0].id, "raw"))[:4] == b"\x1a\x45\xdf\xa3"
            with pytest.raises(KeyUnavailable):
                await _read(services, raw[0].id, "processed")

            # on_event: a recorder runs into the event gate, which keeps nothing without an event.
            await put(
                server, admin, "/api/v1/sites/vault/policy", {"recording": {"mode": "on_event"}}
            )

            async def gated() -> bool:
                streams = services.recorder.streams(device_id)
                return bool(streams) and streams[0].recorder.stats.segments >= 1

            await until(gated)
            (stream,) = services.recorder.streams(device_id)
            assert isinstance(stream.sink, EventGate) and stream.recording_id is None
            assert len(await segments(services, device_id)) == len(processed)
