"""``on_event`` through the recording manager on a real app (SQLite and PostgreSQL).

A real agent publishes over loopback WebRTC; nobody watches. The manager runs the
device's recorder into an event gate: nothing is stored until a HIGH incident names
the device, then one ``event`` recording holds the pre-roll from memory and the
post-roll, has a ``recordings_open`` row while it runs and is sealed after.
"""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import pytest

from lensguard.clock import ManualClock
from lensguard.monitor.event import SecurityEvent
from lensguard.recordings.gate import EventGate
from lensguard.severity import Severity
from tests.recordings.test_manager import (
    IO_WAIT,
    _read,
    new_device,
    open_rows,
    publishing,
    put,
    segments,
    server_on,
    until,
    verified,
)

pytestmark = pytest.mark.slow
PRE, POST = 4, 2


async def test_on_event_stores_nothing_until_an_incident_then_one_sealed_clip(
    make_settings: Any, db_url: str, tmp_path: Path, manual_clock: ManualClock
) -> None:
    clock = manual_clock
    async with server_on(make_settings, db_url, clock) as server:
        services = server.services
        admin = await server.login("root")
        device_id, key = await new_device(server, tmp_path)
        rules = {"mode": "on_event", "pre_roll_seconds": PRE, "post_roll_seconds": POST}
        await put(server, admin, f"/api/v1/streams/{device_id}", {"recording": rules})
        async with publishing(server, key, clock):

            async def buffered() -> bool:
                streams = services.recorder.streams(device_id)
                return (
                    bool(streams)
                    and isinstance(streams[0].sink, EventGate)
                    and streams[0].sink.stats.received >= 3
                )

            await until(buffered)
            (stream,) = services.recorder.streams(device_id)
            gate = stream.sink
            assert isinstance(gate, EventGate)
            assert (gate.pre_roll, gate.post_roll) == (
                timedelta(seconds=PRE),
                timedelta(seconds=POST),
            )
            # No event: a pre-roll in memory, nothing in the index, the store or open rows.
            assert await segments(services, device_id) == []
            assert await services.recordings.store.list() == []
            assert await open_rows(services, device_id) == []
            at = gate.stream_end
            assert at is not None
            services.events.publish(
                SecurityEvent("robot.tamper", Severity.HIGH, resource=device_id, time=at)
            )
            clip = gate.recording
            assert clip is not None and services.recorder.recording(device_id) == [clip]

            async def opened() -> bool:
                return [r.recording_id for r in await open_rows(services, device_id)] == [clip]

            await until(opened)
            async with server.http() as http:
                state = (
                    await http.get(
                        f"/api/v1/devices/{device_id}/recording",
                        headers={"Authorization": f"Bearer {admin}"},
                    )
                ).json()
            assert state["mode"] == "on_event" and state["recording"]
            assert state["recording_id"] == clip
            await asyncio.wait_for(gate.until_idle(), IO_WAIT)  # post-roll, then sealed
            assert await open_rows(services, device_id) == []
            assert services.recorder.recording(device_id) == []
        rows = await segments(services, device_id)
        assert {(r.recording_id, r.kind) for r in rows} == {(clip, "event")}
        assert rows[0].started_at <= at - timedelta(seconds=PRE) < rows[0].ended_at
        assert rows[-1].started_at <= at + timedelta(seconds=POST) < rows[-1].ended_at
        head = await verified(services, clip)
        assert head is not None and head.sealed and head.segments == len(rows)
        for row in rows:
            with av.open(io.BytesIO(await _read(services, row.id)), "r") as container:
                frames = list(container.decode(video=0))
            assert frames and frames[0].key_frame
