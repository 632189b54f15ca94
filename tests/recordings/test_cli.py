"""``lensguard recordings verify`` as an operator runs it: a child process, real stores."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from lensguard.recordings import index
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.segments import write_segment
from lensguard.recordings.store import LocalStore, SegmentStore
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.audit.support import make_log
from tests.harness import s3
from tests.recordings.conftest import make_s3_store

pytestmark = pytest.mark.process  # runs lensguard as a child process

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@dataclass
class Setup:
    config: Path
    db: Database
    rows: list[RecordingSegment]

    def run(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("LENSGUARD_", "AWS_"))}
        result = subprocess.run(
            [sys.executable, "-m", "lensguard", "-c", str(self.config), "recordings", *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            env={**base, **(env or {})},
        )
        return result.returncode, result.stdout, result.stderr


async def make_setup(tmp_path: Path, store: SegmentStore) -> Setup:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lensguard.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    config = tmp_path / "lensguard.yaml"
    config.write_text(yaml.safe_dump({"var_dir": str(tmp_path / "var"), "database": {"url": url}}))
    db = Database(url)
    ring = KeyRing.from_secret("cli-tests-master-secret-0123456789-abcdefghijkl")
    rows = []
    for recording in ("a" * 32, "b" * 32):
        for i in range(3):
            rows.append(
                await write_segment(
                    db,
                    store,
                    ring,
                    recording_id=recording,
                    device_id="d" * 32,
                    stream="processed",
                    started_at=START + timedelta(seconds=6 * i),
                    ended_at=START + timedelta(seconds=6 * (i + 1)),
                    plaintext=os.urandom(2000),
                )
            )
        async with db.transaction() as session:
            await index.anchor(session, make_log(), recording, sealed=True)
    return Setup(config, db, rows)


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[Setup]:
    setup = await make_setup(tmp_path, LocalStore(tmp_path / "var" / "recordings"))
    try:
        yield setup
    finally:
        await setup.db.dispose()


async def test_verify_intact_recordings(local: Setup) -> None:
    code, out, err = local.run("verify")
    assert (code, err) == (0, "")
    assert out.strip() == (
        "OK: 2 recordings, 6 segments checked (0 shredded, 0 recordings not anchored yet)"
    )


async def test_verify_reports_an_edited_segment_and_exits_1(local: Setup, tmp_path: Path) -> None:
    target = tmp_path / "var" / "recordings" / local.rows[4].id
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    code, out, _ = local.run("verify")
    assert code == 1
    assert out.splitlines() == [
        f"BROKEN recording {'b' * 32} segment 1: stored bytes differ from the index (edited)",
        "1 of 2 recordings, 6 segments checked (0 shredded, 0 recordings not anchored yet) "
        "are broken",
    ]
    code, out, _ = local.run("verify", "--recording", "a" * 32)
    assert code == 0 and out.startswith("OK: 1 recordings, 3 segments")


async def test_verify_refuses_a_bad_recording_id_in_one_line(local: Setup) -> None:
    code, out, err = local.run("verify", "--recording", "../../etc/passwd")
    assert code == 2 and out == ""
    assert err.strip() == (
        "error: --recording: a segment id is 1 to 128 letters, digits, '-' or '_'"
    )


async def test_verify_reads_segments_from_s3(tmp_path: Path, s3_endpoint: str) -> None:
    store = make_s3_store(s3_endpoint)
    setup = await make_setup(tmp_path, store)
    try:
        env = {"AWS_ACCESS_KEY_ID": s3.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": s3.SECRET_KEY}
        args = ("--s3-bucket", store.bucket, "--s3-prefix", store.prefix)
        code, out, _ = setup.run("verify", *args, "--s3-endpoint", s3_endpoint, env=env)
        assert code == 0 and out.startswith("OK: 2 recordings, 6 segments")
        await store.delete(setup.rows[0].id)
        code, out, _ = setup.run("verify", *args, "--s3-endpoint", s3_endpoint, env=env)
        assert code == 1
        assert out.splitlines()[0] == (
            f"BROKEN recording {'a' * 32} segment 0: missing from the store"
        )
    finally:
        await setup.db.dispose()
