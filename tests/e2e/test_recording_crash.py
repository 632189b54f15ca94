"""kill -9 a server mid-segment while it records a device: at most the open segment is lost.

A real ``lensguard serve`` records a real ``lensguard agent`` continuously. It is killed
with SIGKILL right after a segment was indexed (the next one is open), a partial
segment file is left in the store as a crash during a write would leave it, and the
server is started again on the same var directory, secret and port. At start-up the
node seals the recording it was running as ``interrupted`` and discards the partial
file; every segment indexed before the kill is still there, ``lensguard recordings
verify`` passes, and once the agent is back a new recording runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.recordings.models import OpenRecording, RecordingSegment
from lensguard.store.db import Database
from tests.harness.server import LiveServer, start_server, strong_secret
from tests.harness.world import World, auth, bootstrap_admin

pytestmark = [pytest.mark.slow, pytest.mark.process]
IO_WAIT = 90.0
"""Seconds real video, reconnects and start-up may take (real I/O, never a timer)."""


async def until_rows(db: Database, check: Any, wait: float = IO_WAIT) -> list[RecordingSegment]:
    """Poll the index until ``check(rows)`` holds (bounded)."""
    async with asyncio.timeout(wait):
        while True:
            async with db.sessions() as session:
                rows = list(
                    (
                        await session.execute(
                            select(RecordingSegment).order_by(
                                RecordingSegment.recording_id, RecordingSegment.seq
                            )
                        )
                    ).scalars()
                )
            if check(rows):
                return rows
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def agent(server: LiveServer, key: Path, log_path: Path) -> AsyncIterator[None]:
    """``lensguard agent`` publishing 320x240 synthetic video to ``server``."""
    command = [
        sys.executable,
        "-m",
        "lensguard",
        "agent",
        "--server",
        server.base_url,
        "--credential-file",
        str(key),
        "--ca-file",
        str(server.cert_path),
        "--width",
        "320",
        "--height",
        "240",
    ]
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(*command, stdout=log, stderr=log)
    try:
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


def crash_config() -> dict[str, Any]:
    return {
        "limits": {"requests_per_minute": 1_000_000},
        # No anchor while it runs: only the start-up recovery can seal what was cut short.
        "recordings": {"segment_seconds": 2.0, "anchor_every": 1000},
    }


async def test_kill_9_mid_segment_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'lensguard.db'}"
    await crash_and_check(tmp_path, crash_config(), url)


async def test_kill_9_mid_segment_on_postgres(tmp_path: Path, pg_url: str) -> None:
    await crash_and_check(tmp_path, crash_config() | {"database": {"url": pg_url}}, pg_url)


async def crash_and_check(tmp_path: Path, config: dict[str, Any], url: str) -> None:
    """Record, kill -9 mid-segment, restart: sealed as interrupted, verified, resumed."""
    env = {"LENSGUARD_SECRET_KEY": strong_secret()}
    server = start_server(tmp_path, config, env=env)
    world = World(server, bootstrap_admin(server))
    device_id, credential = world.device("crash-cam", "dock")
    key = tmp_path / "device.key"
    key.touch(mode=0o600)
    key.write_text(credential)
    with world.http() as client:
        client.put(
            f"/api/v1/streams/{device_id}",
            headers=auth(world.admin),
            json={"recording": {"mode": "continuous"}},
        ).raise_for_status()
    db = Database(url)
    restarted: LiveServer | None = None
    try:
        async with agent(server, key, tmp_path / "agent.log"):
            rows = await until_rows(db, lambda r: len(r) >= 2)
            seen = len(rows)
            # Right after a segment was indexed, the next one is open: kill now.
            rows = await until_rows(db, lambda r: len(r) > seen)
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
        before = await until_rows(db, lambda r: True)
        (first,) = {r.recording_id for r in before}
        assert [r.seq for r in before] == list(range(len(before)))
        async with db.sessions() as session:
            running = (await session.execute(select(OpenRecording))).scalars().all()
        assert [r.recording_id for r in running] == [first]  # it was running
        partial = server.var_dir / "recordings" / ".partial-crashed-write"
        partial.write_bytes(b"half a segment")

        restarted = start_server(tmp_path, config, env=env)
        assert not partial.exists()  # discarded at start-up
        # The device comes back (the agent, pointed at the new port); a new recording runs.
        async with agent(restarted, key, tmp_path / "agent-2.log"):
            after = await until_rows(
                db,
                lambda r: (
                    len({x.recording_id for x in r} - {first}) == 1 and len(r) > len(before) + 1
                ),
            )
        restarted.stop()
        restarted = None

        kept = [r for r in after if r.recording_id == first]
        assert [(r.id, r.digest) for r in kept] == [(r.id, r.digest) for r in before]
        async with db.sessions() as session:
            anchors = (
                (
                    await session.execute(
                        select(AuditEntry.details)
                        .where(AuditEntry.resource_id == first)
                        .order_by(AuditEntry.seq)
                    )
                )
                .scalars()
                .all()
            )
            assert (await session.execute(select(OpenRecording))).scalars().all() == []
        (sealed,) = [json.loads(d) for d in anchors]
        assert sealed["sealed"] is True and sealed["reason"] == "interrupted"
        assert sealed["segments"] == len(before)
        second = {r.recording_id for r in after} - {first}
        assert len(second) == 1

        verify = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lensguard",
            "-c",
            "lensguard.yaml",
            "recordings",
            "verify",
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith("LENSGUARD_")} | env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(verify.communicate(), 120)
        assert verify.returncode == 0, output.decode(errors="replace")
    finally:
        await db.dispose()
        if restarted is not None:
            restarted.stop()
        server.stop()
