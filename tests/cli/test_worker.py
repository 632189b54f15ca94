"""``lensguard worker`` as an operator runs it: real processes, real Redis."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.cli.test_cli import lensguard
from tests.harness.ports import free_port

pytestmark = pytest.mark.process  # runs lensguard as a child process


@pytest.fixture
def stream(redis_url: str) -> Iterator[str]:
    name = f"lgtest:{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{name}:*"):
        client.delete(key)
    client.close()


def test_help_explains_the_worker(tmp_path: Path) -> None:
    result = lensguard(tmp_path, "worker", "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for text in (
        "Redis Streams",
        "--name",
        "hostname-pid",
        "--claim-idle-ms",
        "--max-age-ms",
        "--block-ms",
        "--stats",
        "skipped",
        "SIGTERM",
    ):
        assert text in result.stdout, text
    top = lensguard(tmp_path, "--help", env={"COLUMNS": "200"})
    assert "worker" in top.stdout


@pytest.mark.parametrize("args", [(), ("--stats",)])
def test_without_redis_it_refuses_clearly(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = lensguard(tmp_path, "worker", *args)
    assert result.returncode == 2
    assert "needs Redis" in result.stderr and "LENSGUARD_REDIS__URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    env = {"LENSGUARD_REDIS__URL": f"redis://127.0.0.1:{free_port()}/0"}
    result = lensguard(tmp_path, "worker", "--name", "w1", env=env)
    assert result.returncode == 1
    assert "cannot reach Redis" in result.stderr and "Traceback" not in result.stderr


def test_bad_name_is_refused(tmp_path: Path, redis_url: str) -> None:
    result = lensguard(tmp_path, "worker", "--name", "a b", env={"LENSGUARD_REDIS__URL": redis_url})
    assert result.returncode == 2 and "--name" in result.stderr


def test_stats_then_sigterm_stops_cleanly(tmp_path: Path, redis_url: str, stream: str) -> None:
    env = {"LENSGUARD_REDIS__URL": redis_url, "LENSGUARD_VISION__STREAM": stream}
    config = tmp_path / "lensguard.yaml"
    config.write_text(f"mode: dev\nvar_dir: {tmp_path / 'var'}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lensguard", "-c", str(config), "worker", "--name", "w-cli"],
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            shown = lensguard(tmp_path, "worker", "--stats", "--json", env=env)
            assert shown.returncode == 0, shown.stderr
            workers = json.loads(shown.stdout)["workers"]
            if workers:
                break
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert workers[0]["name"] == "w-cli"
        assert workers[0]["counters"] == {"processed": 0, "skipped": 0, "failed": 0, "claimed": 0}
        table = lensguard(tmp_path, "worker", "--stats", env=env)
        assert f"{stream}:jobs (group workers): 0 queued, 0 pending" in table.stdout
        assert "w-cli: processed 0, skipped 0, failed 0, claimed 0" in table.stdout
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "worker w-cli stopped: processed 0, skipped 0, failed 0, claimed 0" in out
    after = lensguard(tmp_path, "worker", "--stats", env=env)
    assert "no live workers" in after.stdout
