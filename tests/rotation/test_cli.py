"""``lensguard secret rotate`` as an operator runs it: a child process, killed part-way."""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import RecordingSegment
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.harness.server import strong_secret

pytestmark = pytest.mark.process  # runs lensguard as a child process

ROWS = 2000
WHEN = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def lensguard(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "lensguard", "-c", str(config), "secret", *args]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LENSGUARD_")}


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        lensguard(config, *args),
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
    )


def secret_file(path: Path, value: str) -> Path:
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


async def make_deployment(tmp_path: Path, rows: int = ROWS) -> tuple[Path, Path, str]:
    """A database holding ``rows`` wrapped data keys under a first secret, and its config."""
    db_file = tmp_path / "lensguard.db"
    url = f"sqlite+aiosqlite:///{db_file}"
    await asyncio.to_thread(migrate.upgrade, url)
    old = strong_secret()
    config = tmp_path / "lensguard.yaml"
    settings = {"var_dir": str(tmp_path / "var"), "secret_key": old, "database": {"url": url}}
    config.write_text(yaml.safe_dump({"mode": "production", **settings}))
    ring = KeyRing.from_secret(old)
    db = Database(url)
    try:
        async with db.transaction() as session:
            for seq in range(rows):
                _key, wrapped = ring.new_data_key()
                session.add(
                    RecordingSegment(
                        id=f"{seq:032x}",
                        recording_id="r" * 32,
                        seq=seq,
                        device_id="d" * 32,
                        stream="processed",
                        started_at=WHEN,
                        ended_at=WHEN,
                        size=1,
                        key_id=wrapped.key_id,
                        kek_version=wrapped.kek_version,
                        wrapped_key=wrapped.wrapped,
                        digest="0" * 64,
                        prev_digest="0" * 64,
                    )
                )
    finally:
        await db.dispose()
    return config, db_file, old


def rotation_row(db_file: Path) -> tuple[str, int] | None:
    with sqlite3.connect(db_file, timeout=30) as conn:
        row = conn.execute("SELECT state, moved FROM secret_rotations").fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def test_kill_9_part_way_then_the_same_command_finishes(tmp_path: Path) -> None:
    config, db_file, old = asyncio.run(make_deployment(tmp_path))
    new_file = secret_file(tmp_path / "new.key", strong_secret())
    child = subprocess.Popen(
        lensguard(config, "rotate", "--new-secret-file", str(new_file), "--batch", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    try:
        # Wait until a few batches have committed, then kill it without warning.
        deadline = time.monotonic() + 120
        while (row := rotation_row(db_file)) is None or row[1] < 20:
            assert child.poll() is None, "the rotation ended before it could be killed"
            assert time.monotonic() < deadline, "the rotation made no progress"
            time.sleep(0.01)  # polling the child's progress, not waiting out a timer
    finally:
        child.kill()
        child.wait()
    killed = rotation_row(db_file)
    assert killed is not None and killed[0] == "running" and killed[1] < ROWS
    status = run(config, "rotate", "--status")
    assert status.returncode == 1
    assert "a rotation is unfinished" in status.stdout
    finished = run(config, "rotate", "--new-secret-file", str(new_file))
    assert finished.returncode == 0, finished.stderr
    assert f"done (resumed): {ROWS:,} secrets moved" in finished.stdout
    assert "nothing stored needs the old secret" in finished.stderr
    assert rotation_row(db_file) == ("done", ROWS)
    checked = run(config, "rotate", "--status", "--new-secret-file", str(new_file))
    assert checked.returncode == 0, checked.stdout
    assert f"recording data keys  {ROWS:,} of {ROWS:,} open under it" in checked.stdout
    assert "an older secret may be removed" in checked.stdout
    stale = run(config, "rotate", "--status")  # the configured (old) secret
    assert stale.returncode == 1
    assert "NOT the secret" in stale.stdout
    assert old not in status.stdout + status.stderr + finished.stdout + finished.stderr


async def test_a_wrong_old_secret_is_refused_before_anything_changes(tmp_path: Path) -> None:
    config, db_file, _old = await make_deployment(tmp_path)
    wrong = secret_file(tmp_path / "wrong.key", strong_secret())
    new = secret_file(tmp_path / "new.key", strong_secret())
    result = run(config, "rotate", "--old-secret-file", str(wrong), "--new-secret-file", str(new))
    assert result.returncode == 2
    assert "old secret does not open the stored recording data keys" in result.stderr
    assert "nothing was changed" in result.stderr
    assert rotation_row(db_file) is None
    missing = run(config, "rotate")
    assert (missing.returncode, "--new-secret-file" in missing.stderr) == (2, True)


def test_help_explains_the_steps_and_generate_stays(tmp_path: Path) -> None:
    config = tmp_path / "none.yaml"
    config.write_text("mode: dev\n")
    shown = run(config, "rotate", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.replace("\u2502", " ").split())  # the panels' borders
    for step in ("stop every node", "--status", "kill", "never from the command line"):
        assert step in text
    generated = run(config, "generate")
    assert generated.returncode == 0 and len(generated.stdout.strip()) == 64


def test_on_a_terminal_a_progress_bar_counts_each_kind(tmp_path: Path) -> None:
    config, _db_file, _old = asyncio.run(make_deployment(tmp_path, rows=300))
    new_file = secret_file(tmp_path / "new.key", strong_secret())
    terminal, child_side = os.openpty()
    child = subprocess.Popen(
        lensguard(config, "rotate", "--new-secret-file", str(new_file), "--batch", "10"),
        stdout=subprocess.PIPE,
        stderr=child_side,
        env={**clean_env(), "COLUMNS": "120"},
    )
    os.close(child_side)
    shown = b""
    try:
        while True:
            try:
                chunk = os.read(terminal, 65536)
            except OSError as exc:  # EIO: the child closed its end
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(terminal)
        assert child.stdout is not None
        out = child.stdout.read().decode()
        child.stdout.close()
        assert child.wait(timeout=300) == 0
    text = shown.decode(errors="replace")
    for label in ("token-signing keys", "TOTP seeds", "recording data keys"):
        assert label in text
    assert "300/300" in text
    assert "300 secrets moved" in out
