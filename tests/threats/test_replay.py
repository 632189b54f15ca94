"""``lensguard threats replay``: detections as JSON lines; bad lines reported and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process  # runs lensguard as a child process


def line(event_id: str, name: str, time: str, **fields: object) -> str:
    return json.dumps({"id": event_id, "name": name, "time": time, "fields": fields})


def test_replay_writes_detections_and_skips_malformed_lines(tmp_path: Path) -> None:
    events = [
        line(
            f"f{n}",
            "auth.login_failed",
            f"2026-12-01T10:00:0{n}Z",
            username="ada",
            client="203.0.113.9",
        )
        for n in range(3)
    ]
    events += [
        "{not json",
        json.dumps({"id": "no-name", "time": "2026-12-01T10:00:04Z"}),
        json.dumps({"id": "bad-time", "name": "x", "time": "yesterday"}),
        "",
        json.dumps([1, 2]),
    ]
    events += [
        line(
            f"g{n}",
            "auth.login_failed",
            f"2026-12-01T10:00:1{n}Z",
            username="ada",
            client="203.0.113.9",
        )
        for n in range(2)
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(events) + "\n")
    out = tmp_path / "detections.jsonl"
    done = lensguard(tmp_path, "threats", "replay", str(source), "--output", str(out))
    assert done.returncode == 0, done.stderr
    for number, reason in ((4, "not JSON"), (5, "name"), (6, "RFC 3339"), (8, "object")):
        assert f"events.jsonl:{number}: skipped" in done.stderr and reason in done.stderr
    assert "5 events, 1 detections (brute_force 1); 4 malformed" in done.stderr
    (detection,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert detection["kind"] == "brute_force" and detection["address"] == "203.0.113.9"
    assert detection["event_ids"] == ["f0", "f1", "f2", "g0", "g1"]
    assert detection["response"] == "block_ip" and 0.5 <= detection["score"] < 1


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    done = lensguard(tmp_path, "threats", "replay", str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr
