"""From relay to disk: a real relay recorded into the encrypted store, index and audit chain.

A publishing aiortc peer sends moving bars over loopback; the relay's processed
fan-out is recorded into an ``EncryptedSink`` on the local store and on S3 (moto), on
SQLite and PostgreSQL. A store that fills up stops the recording, never the viewers.
"""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import av
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection
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
from lensguard.recordings.crypto import SegmentIntegrityError
from lensguard.recordings.keys import KeyRing, KeyUnavailable
from lensguard.recordings.recorder import RecorderConfig
from lensguard.recordings.segments import read_segment
from lensguard.recordings.store import LocalStore, SegmentStore
from lensguard.recordings.verify import verify_recording
from lensguard.recordings.writer import FAILED_EVENT, EncryptedSink, Recording
from lensguard.severity import Severity
from lensguard.store.db import Database
from tests.audit.support import make_log
from tests.harness.device import Bars
from tests.harness.ice import host_blocks, no_servers
from tests.recordings.test_recorder_relay import DEVICE, serve_device

pytestmark = pytest.mark.slow
MASTER = "recording-writer-tests-master-secret-0123456789-abc"
CONFIG = RecorderConfig(segment_seconds=2.0)


@asynccontextmanager
async def relayed(track: MediaStreamTrack) -> AsyncIterator[tuple[DeviceRelay, ManualClock]]:
    """A started relay receiving ``track`` from a device peer over loopback."""
    bus = MemoryBus()
    clock = ManualClock()
    device = RTCPeerConnection(no_servers())
    ice = IcePolicy(remote=RemoteAddresses(allowed=networks(host_blocks())))
    relay = DeviceRelay(bus, DEVICE, lambda _: None, ice=ice, clock=clock)
    serving = await serve_device(bus, device, track)
    try:
        relay.configure(None)
        await relay.start()
        await serving
        yield relay, clock
    finally:
        await relay.close()
        await device.close()


def decoded(plain: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(plain), "r") as container:
        return list(container.decode(video=0))


async def reasons(db: Database, store: SegmentStore, recording_id: str) -> list[str]:
    async with db.sessions() as session:
        report = await verify_recording(session, store, recording_id)
    return [f"{p.seq}: {p.reason}" for p in report.problems]


async def test_a_relay_is_recorded_encrypted_chained_and_anchored(
    db: Database, segment_store: SegmentStore
) -> None:
    ring = KeyRing.from_secret(MASTER)
    sink = EncryptedSink(db, segment_store, ring, make_log(), device_id=DEVICE, anchor_every=2)
    async with relayed(Bars()) as (relay, clock):
        recording = Recording(relay.fanout, sink, clock=clock, config=CONFIG)
        recording.start()
        try:
            await asyncio.wait_for(sink.until_written(2), 40)  # real video: 2-3 s a segment
        finally:
            sealed = await recording.stop()
    assert not sink.failed and sink.refused == 0 and recording.recorder.stats.failed == 0
    # Stopping kept the segment that was open: it is in the recording and the seal.
    assert sealed is not None and sealed.sealed and sealed.segments == sink.written >= 3
    async with db.sessions() as session:
        rows = await index.segments_of(session, sink.recording_id)
        report = await verify_recording(session, segment_store, sink.recording_id)
        plains = [await read_segment(session, segment_store, ring, row.id) for row in rows]
        anchors = (
            (
                await session.execute(
                    select(AuditEntry.details)
                    .where(AuditEntry.resource_id == sink.recording_id)
                    .order_by(AuditEntry.seq)
                )
            )
            .scalars()
            .all()
        )
    assert report.ok and report.anchored and report.segments == len(rows) == sink.written
    assert {(row.device_id, row.stream) for row in rows} == {(DEVICE, "processed")}
    assert len({row.key_id for row in rows}) == len(rows)  # a data key per segment
    # The running recording was anchored at segment 2, then sealed when it stopped.
    heads = [json.loads(details) for details in anchors]
    assert (heads[0]["segments"], heads[0]["sealed"]) == (2, False)
    assert (heads[-1]["segments"], heads[-1]["sealed"]) == (len(rows), True)
    for row, plain in zip(rows, plains, strict=True):
        stored = await segment_store.get(row.id)
        assert plain[:4] == b"\x1a\x45\xdf\xa3" and plain[:64] not in stored  # EBML, encrypted
        frames = decoded(plain)
        assert frames and frames[0].key_frame and (frames[0].width, frames[0].height) == (320, 240)

    # A flipped byte in a stored segment: verify names it, decryption refuses it.
    tampered = bytearray(await segment_store.get(rows[1].id))
    tampered[len(tampered) // 2] ^= 0x01
    await segment_store.put(rows[1].id, bytes(tampered))
    assert await reasons(db, segment_store, sink.recording_id) == [
        "1: stored bytes differ from the index (edited)"
    ]
    async with db.sessions() as session:
        with pytest.raises(SegmentIntegrityError, match=r"^chunk 0 does not authenticate"):
            await read_segment(session, segment_store, ring, rows[1].id)

    # Shredding the keys: the bytes are still stored and the chain still verifies,
    # but no segment can be read by anyone.
    async with db.transaction() as session:
        assert await index.shred(session, [row.id for row in rows]) == len(rows)
    async with db.sessions() as session:
        for row in rows:
            with pytest.raises(KeyUnavailable, match="deleted"):
                await read_segment(session, segment_store, ring, row.id)


class FillingDisk(LocalStore):
    """A local store on a disk with room for ``room`` more segments, then ENOSPC."""

    def __init__(self, root: Path, *, room: int) -> None:
        super().__init__(root)
        self.room = room

    async def put(self, segment_id: str, data: bytes) -> None:
        if self.room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= 1
        await super().put(segment_id, data)


async def test_a_full_disk_stops_the_recording_and_the_viewers_keep_watching(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = Database(sqlite_url)
    store = FillingDisk(tmp_path / "recordings", room=1)
    events: list[SecurityEvent] = []
    publisher = EventPublisher()
    publisher.subscribe(events.append, name="test")
    ring = KeyRing.from_secret(MASTER)
    sink = EncryptedSink(db, store, ring, make_log(), device_id=DEVICE, events=publisher)
    frames = 0
    arrived = asyncio.Event()
    try:
        async with relayed(Bars()) as (relay, clock):
            viewer = relay.fanout.subscribe()

            async def watch() -> None:
                nonlocal frames
                while True:
                    await viewer.recv()
                    frames += 1
                    arrived.set()

            watching = asyncio.create_task(watch())
            recording = Recording(relay.fanout, sink, clock=clock, config=CONFIG)
            recording.start()
            await asyncio.wait_for(sink.until_written(2), 40)  # the second one fails
            sealed = await asyncio.wait_for(recording.stop(), 10)
            assert sink.failed and sink.written == 1 and not recording.running
            assert relay.fanout.taps == []
            # Frames still reach the viewer after the failure: a second of video more.
            seen = frames
            while frames < seen + 30:
                arrived.clear()
                await asyncio.wait_for(arrived.wait(), 10)
            assert viewer.readyState == "live"
            watching.cancel()
        assert [(e.type, e.severity, e.resource, e.outcome) for e in events] == [
            (FAILED_EVENT, Severity.HIGH, DEVICE, "failure")
        ]
        assert events[0].fields == {
            "recording_id": sink.recording_id,
            "segments": 1,
            "error": "OSError",
        }
        # What was written stays a valid recording, sealed where it ended.
        assert sealed is not None and sealed.sealed and sealed.segments == 1
        assert await reasons(db, store, sink.recording_id) == []
        assert len(await store.list()) == 1
    finally:
        await db.dispose()
