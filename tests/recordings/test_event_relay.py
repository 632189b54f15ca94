"""Event recordings of a real relay: an aiortc publisher over loopback, SQLite and PostgreSQL.

The publisher shows a still scene and, when the test says so, a moving bar. The relay
runs ``motion_detect``; an ``EventRecording`` taps its processed fan-out through an
``EventGate``. Segment times follow the publisher's RTP clock from the ManualClock's
start, so the test moves the ManualClock up to the newest segment's end before it
makes something happen: triggers then carry times on the segments' timeline.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection, VideoStreamTrack
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.bus.memory import MemoryBus
from lensguard.clock import ManualClock
from lensguard.media.addresses import networks
from lensguard.media.ice import IcePolicy, RemoteAddresses
from lensguard.media.relay import DeviceRelay
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings import index
from lensguard.recordings.event import EventRecording, event_gate
from lensguard.recordings.gate import ENDED, STARTED, EventGate
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.recorder import RecorderConfig
from lensguard.recordings.segments import read_segment
from lensguard.recordings.settings import RecordingSettings
from lensguard.recordings.store import LocalStore
from lensguard.recordings.vault import RecordingVault
from lensguard.recordings.verify import verify_recording
from lensguard.severity import Severity
from lensguard.store.db import Database
from lensguard.store.streams import StreamPolicy
from tests.audit.support import make_log
from tests.harness.ice import host_blocks, no_servers
from tests.recordings.test_recorder_relay import DEVICE, serve_device

pytestmark = pytest.mark.slow
MASTER = "recording-event-tests-master-secret-0123456789-ab"
PRE, POST = 4.0, 4.0
# Gaps only by RTP jumps: the test moves the ManualClock by a segment at a time.
CONFIG = RecorderConfig(segment_seconds=2.0, gap_seconds=10.0)
WAIT = 60


class Scene(VideoStreamTrack):
    """A still picture at 30 fps; a white bar sweeps across it while ``moving``."""

    def __init__(self) -> None:
        super().__init__()
        self.moving = False
        self.n = 0
        self.still = np.full((240, 320, 3), 70, np.uint8)
        self.still[60:180, 40:120] = (30, 120, 200)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = self.still
        if self.moving:
            self.n += 1
            image = self.still.copy()
            x = (self.n * 12) % 280
            image[:, x : x + 40] = 255
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


@asynccontextmanager
async def relayed(
    track: Scene, policy: StreamPolicy | None
) -> AsyncIterator[tuple[DeviceRelay, ManualClock]]:
    bus, clock = MemoryBus(), ManualClock()
    device = RTCPeerConnection(no_servers())
    ice = IcePolicy(remote=RemoteAddresses(allowed=networks(host_blocks())))
    relay = DeviceRelay(bus, DEVICE, lambda _: None, ice=ice, clock=clock)
    serving = await serve_device(bus, device, track)
    try:
        relay.configure(policy)
        await relay.start()
        await serving
        yield relay, clock
    finally:
        await relay.close()
        await device.close()


def make_vault(db: Database, root: Path, events: EventPublisher) -> RecordingVault:
    return RecordingVault(
        db=db,
        store=LocalStore(root / "recordings"),
        ring=KeyRing.from_secret(MASTER),
        audit=make_log(),
        events=events,
        settings=RecordingSettings(),
    )


async def catch_up(clock: ManualClock, gate: EventGate, segments: int) -> None:
    """Wait for ``segments`` segments in all, then bring the clock to the newest one's end."""
    await asyncio.wait_for(gate.until_received(segments), WAIT)
    assert gate.stream_end is not None
    await clock.advance(max(0.0, (gate.stream_end - clock.now()).total_seconds()))


async def clip_rows(db: Database) -> list[RecordingSegment]:
    async with db.sessions() as session:
        result = await session.execute(
            select(RecordingSegment).order_by(RecordingSegment.recording_id, RecordingSegment.seq)
        )
        return list(result.scalars().all())


async def audited(db: Database, action: str) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        result = await session.execute(
            select(AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        )
        return [json.loads(details) for details in result.scalars().all()]


async def check_clip(db: Database, vault: RecordingVault, recording_id: str) -> None:
    """Sealed, verified, and every segment decrypts to WebM that PyAV decodes."""
    async with db.sessions() as session:
        report = await verify_recording(session, vault.store, recording_id)
        sealed = await index.latest_anchor(session, recording_id)
        rows = await index.segments_of(session, recording_id)
        plains = [await read_segment(session, vault.store, vault.ring, row.id) for row in rows]
    assert report.ok and sealed is not None and sealed.sealed and sealed.segments == len(rows)
    for plain in plains:
        with av.open(io.BytesIO(plain), "r") as container:
            frames = list(container.decode(video=0))
        assert frames and frames[0].key_frame and (frames[0].width, frames[0].height) == (320, 240)


async def test_motion_records_one_clip_from_pre_roll_to_post_roll(
    db: Database, tmp_path: Path
) -> None:
    events = EventPublisher()
    vault = make_vault(db, tmp_path, events)
    scene = Scene()
    policy = StreamPolicy(device_id=DEVICE, site="site-a", ai_models=("motion_detect",))
    async with relayed(scene, policy) as (relay, clock):
        gate = event_gate(vault, DEVICE, clock=clock, pre_roll=PRE, post_roll=POST)
        recording = EventRecording(relay, gate, clock=clock, events=events, config=CONFIG)
        moved = asyncio.Event()

        def on_detections(_pts: int | None, found: list[Any]) -> None:
            if any(d.label == "motion" for d in found):
                moved.set()

        relay.detection_listeners.append(on_detections)
        recording.start()
        try:
            await catch_up(clock, gate, 3)  # a still scene: a pre-roll, nothing stored
            assert gate.recordings == [] and await clip_rows(db) == []
            scene.moving = True
            await asyncio.wait_for(moved.wait(), WAIT)
            await catch_up(clock, gate, gate.stats.received + 1)  # moving for a segment more
            scene.moving = False
            await asyncio.wait_for(gate.until_idle(), WAIT)  # the post-roll, then sealed
            # Still again: another segment goes by and nothing more is stored.
            kept = len(await clip_rows(db))
            await asyncio.wait_for(gate.until_received(gate.stats.received + 1), WAIT)
        finally:
            await recording.stop()
    assert len(await clip_rows(db)) == kept
    (clip,) = gate.recordings
    rows = await clip_rows(db)
    assert {(r.recording_id, r.kind) for r in rows} == {(clip, "event")}
    (started,) = await audited(db, STARTED)
    (ended,) = await audited(db, ENDED)
    assert started["reason"] == "motion" and ended["reasons"] == ["motion"]
    first, until = datetime.fromisoformat(started["at"]), datetime.fromisoformat(ended["until"])
    # It starts in the segment holding the start of the pre-roll, and ends in the one
    # holding the end of the post-roll after the last motion.
    pre = first - timedelta(seconds=PRE)
    assert rows[0].started_at <= pre < rows[0].ended_at
    assert rows[-1].started_at <= until < rows[-1].ended_at
    assert ended["segments"] == len(rows) and ended["triggers"] >= 2
    await check_clip(db, vault, clip)


async def test_no_event_stores_nothing_and_an_incident_records_its_pre_roll(
    db: Database, tmp_path: Path
) -> None:
    events = EventPublisher()
    vault = make_vault(db, tmp_path, events)
    async with relayed(Scene(), None) as (relay, clock):
        events.now = clock.now
        gate = event_gate(vault, DEVICE, clock=clock, pre_roll=PRE, post_roll=POST)
        recording = EventRecording(relay, gate, clock=clock, events=events, config=CONFIG)
        recording.start()
        try:
            await catch_up(clock, gate, 4)
            assert gate.recordings == [] and await clip_rows(db) == []
            assert await vault.store.list() == []
            events.publish(
                SecurityEvent("robot.tamper", Severity.HIGH, resource=DEVICE, time=events.now())
            )
            (clip,) = gate.recordings
            await asyncio.wait_for(gate.until_received(gate.stats.received + 1), WAIT)
        finally:
            await recording.stop()  # stopping seals the open clip with what it has
    rows = await clip_rows(db)
    (started,) = await audited(db, STARTED)
    assert started["reason"] == "incident:robot.tamper"
    # The clip holds the pre-roll from memory (two 2 s segments before the incident).
    pre = datetime.fromisoformat(started["at"]) - timedelta(seconds=PRE)
    assert rows[0].started_at <= pre < rows[0].ended_at and len(rows) >= 3
    assert {(r.recording_id, r.kind) for r in rows} == {(clip, "event")}
    assert len(await vault.store.list()) == len(rows)
    await check_clip(db, vault, clip)
