"""Two nodes, one Redis and one PostgreSQL: the node holding the device records it.

A real agent publishes through node B. The policy is changed, the on-demand request
made and the status read through node A: B records (once), A records nothing, and
both answer the same status from the database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lensguard.clock import ManualClock
from tests.harness.ice import host_blocks
from tests.harness.inprocess import InProcessServer, serve_in_process
from tests.harness.server import strong_secret
from tests.recordings.test_manager import (
    new_device,
    open_rows,
    publishing,
    put,
    segments,
    until,
)

pytestmark = pytest.mark.slow
SECRET = strong_secret()
"""The cluster's one master secret (every node holds the same)."""


@contextlib.asynccontextmanager
async def node(
    make_settings: Any, pg_url: str, redis_url: str, var: Path, clock: ManualClock
) -> AsyncIterator[InProcessServer]:
    settings = make_settings(
        var_dir=str(var),
        secret_key=SECRET,
        database={"url": pg_url},
        redis={"url": redis_url},
        limits={"requests_per_minute": 100_000},
        media={"ice": {"allow_remote_addresses": host_blocks()}},
        recordings={"segment_seconds": 2.0},
    )
    async with serve_in_process(settings, clock) as server:
        yield server


async def test_the_node_holding_the_device_records_it_whoever_changes_the_policy(
    make_settings: Any,
    pg_url: str,
    redis_url: str,
    tmp_path: Path,
    manual_clock: ManualClock,
) -> None:
    clock = manual_clock
    async with (
        node(make_settings, pg_url, redis_url, tmp_path / "a", clock) as a,
        node(make_settings, pg_url, redis_url, tmp_path / "b", clock) as b,
    ):
        assert a.services.recorder.node_id != b.services.recorder.node_id
        await a.user("root", "admin")
        admin = await a.login("root")
        device_id, key = await new_device(b, tmp_path)
        auth = {"Authorization": f"Bearer {admin}"}
        async with publishing(b, key, clock):
            await put(
                a, admin, f"/api/v1/streams/{device_id}", {"recording": {"mode": "on_demand"}}
            )
            async with a.http() as http:
                started = await http.post(f"/api/v1/devices/{device_id}/recording", headers=auth)
            assert started.status_code == 202, started.text

            async def recorded() -> bool:
                return len(await segments(b.services, device_id)) >= 2

            await until(recorded)
            assert b.services.recorder.recording(device_id)
            assert a.services.recorder.recording(device_id) == []  # one recorder cluster-wide
            assert a.services.hub.media is not None and device_id not in a.services.hub.media.relays
            (row,) = await open_rows(a.services, device_id)
            assert row.node_id == b.services.recorder.node_id
            seen_a = await a.services.recorder.status(device_id)
            seen_b = await b.services.recorder.status(device_id)
            assert seen_a == seen_b and seen_a.recording and seen_a.requested

            # Turned off through node A: node B seals its recording.
            await put(a, admin, f"/api/v1/streams/{device_id}", {"recording": {"mode": "off"}})

            async def sealed() -> bool:
                return await open_rows(a.services, device_id) == []

            await until(sealed)
            assert b.services.recorder.recording(device_id) == []
