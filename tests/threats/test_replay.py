"""``lensguard threats replay``: detections as JSON lines; bad lines reported and skipped."""

from __future__ import annotations

import json
import random
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


def _office_hours(days: int) -> list[str]:
    rng = random.Random(5)
    found = []
    for day in range(days):
        for minute in range(8 * 60, 17 * 60):
            for n in range(10):
                if rng.random() < 0.5:
                    at = 1_800_000_000 + day * 86_400 + minute * 60 + n
                    found.append(
                        json.dumps(
                            {
                                "id": f"o{day}-{minute}-{n}",
                                "name": "http.request",
                                "time": at,
                                "fields": {"principal": f"p{n}", "route": "/api/v1/devices"},
                            }
                        )
                    )
    return found


def test_train_then_replay_with_the_model(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(_office_hours(4)) + "\n{broken\n")
    trained = lensguard(tmp_path, "threats", "train", "--events", str(history))
    assert trained.returncode == 0, trained.stderr
    assert "history.jsonl:" in trained.stderr and "skipped" in trained.stderr
    assert "windows" in trained.stdout and (tmp_path / "var" / "threat-model.lgm").exists()
    night = 1_800_000_000 + 5 * 86_400 + 3 * 3_600
    sweep = [
        json.dumps(
            {
                "id": f"s{n}",
                "name": "access.denied",
                "time": night + n,
                "fields": {"principal": "p3", "resource_id": f"d{n}", "action": "camera_view"},
            }
        )
        for n in range(60)
    ]
    source = tmp_path / "night.jsonl"
    source.write_text("\n".join(sweep) + "\n")
    done = lensguard(tmp_path, "threats", "replay", str(source))
    assert done.returncode == 0, done.stderr
    assert "with the anomaly model" in done.stderr
    kinds = {json.loads(x)["kind"] for x in done.stdout.splitlines()}
    assert {"anomaly", "lateral_movement"} <= kinds
    plain = lensguard(tmp_path, "threats", "replay", str(source), "--no-model")
    assert "anomaly" not in {json.loads(x)["kind"] for x in plain.stdout.splitlines()}


def test_train_needs_enough_history(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(_office_hours(1)[:30]) + "\n")
    done = lensguard(tmp_path, "threats", "train", "--events", str(history))
    assert done.returncode == 2 and "at least 50 are needed" in done.stderr


def test_train_refuses_a_malformed_span(tmp_path: Path) -> None:
    done = lensguard(tmp_path, "threats", "train", "--since", "soon")
    assert done.returncode == 2 and "90m, 12h or 30d" in done.stderr
