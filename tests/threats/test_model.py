"""The anomaly model: fitted on ordinary windows, stored signed, refused when not ours."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

import pytest

from lensguard.threats.engine import ThreatEngine
from lensguard.threats.features import FEATURES, Aggregator, Row
from lensguard.threats.model import MAGIC, AnomalyModel, ModelError
from lensguard.threats.observation import Observation
from lensguard.threats.rules_model import Anomaly
from lensguard.threats.training import model_key
from lensguard.threats.windows import MemoryWindows
from tests.threats.events import event

KEY = model_key("a test master secret that is long enough, really")
WINDOW = 600.0


def ordinary_day(day: int, people: int = 12) -> list[Observation]:
    """Office hours: each person a request most minutes, a view now and then."""
    rng = random.Random(day)
    found = []
    for minute in range(8 * 60, 17 * 60):
        for n in range(people):
            at = day * 86_400 + minute * 60 + n
            if rng.random() < 0.5:
                route = rng.choice(("/api/v1/devices", "/api/v1/streams", "/api/v1/users/me"))
                found.append(event("http.request", at, principal=f"p{n}", route=route))
            if rng.random() < 0.02:
                device = f"d{rng.randrange(3)}"
                found.append(event("stream.view_start", at, principal=f"p{n}", device_id=device))
    return found


def sweep() -> list[Observation]:
    """At 3 am, sixty refusals on sixty devices in a few minutes."""
    at = 6 * 86_400 + 3 * 3_600
    return [event("access.denied", at + n, principal="p3", resource_id=f"d{n}") for n in range(60)]


def rows(observations: list[Observation]) -> list[Row]:
    aggregator = Aggregator(WINDOW)
    found = [row for o in observations for row in aggregator.add(o)]
    return found + aggregator.flush()


@pytest.fixture(scope="module")
def model() -> AnomalyModel:
    history = [o for day in range(5) for o in ordinary_day(day)]
    return AnomalyModel.fit(rows(history), window_seconds=WINDOW)


def test_windows_like_the_history_score_low_and_a_sweep_scores_high(
    model: AnomalyModel,
) -> None:
    usual = model.scores(rows(ordinary_day(6)))
    (odd,) = model.scores(rows(sweep()))
    assert odd > max(usual)
    assert odd - sorted(usual)[len(usual) // 2] > 0.1


def test_features_are_the_documented_schema() -> None:
    (row,) = rows([event("data.egress", 0, principal="a", bytes=5_000_000, device_id="d9")])
    values = dict(zip(FEATURES, row.values, strict=True))
    assert values["requests"] > 0 and values["bytes_out"] > 0 and values["devices"] > 0
    assert values["failures"] == 0


def test_a_saved_model_loads_back_and_scores_the_same(model: AnomalyModel, tmp_path: Path) -> None:
    path = tmp_path / "model.lgm"
    model.save(path, KEY)
    assert (path.stat().st_mode & 0o777) == 0o600
    loaded = AnomalyModel.load(path, KEY, window_seconds=WINDOW)
    sample = rows(ordinary_day(7))
    assert loaded.scores(sample) == model.scores(sample)
    assert loaded.trained.rows == model.trained.rows


def test_a_file_not_signed_by_this_server_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "model.lgm"
    path.write_bytes(MAGIC + b'{"format": 1}\n' + b"0" * 64 + b"\n" + pickle.dumps(Exploit()))
    with pytest.raises(ModelError, match="not written by this server"):
        AnomalyModel.load(path, KEY, window_seconds=WINDOW)
    assert not marker.exists()


def test_another_key_a_changed_body_or_other_windows_are_refused(
    model: AnomalyModel, tmp_path: Path
) -> None:
    path = tmp_path / "model.lgm"
    model.save(path, KEY)
    with pytest.raises(ModelError, match="not written by this server"):
        AnomalyModel.load(
            path, model_key("another master secret, equally long!!!!"), window_seconds=WINDOW
        )
    with pytest.raises(ModelError, match=r"600\.0 s windows"):
        AnomalyModel.load(path, KEY, window_seconds=300)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="not written by this server"):
        AnomalyModel.load(path, KEY, window_seconds=WINDOW)
    path.write_bytes(b"something else entirely")
    with pytest.raises(ModelError, match="not a lensguard threat model"):
        AnomalyModel.load(path, KEY, window_seconds=WINDOW)


def test_too_little_history_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="at least 50 are needed"):
        AnomalyModel.fit(rows(ordinary_day(0, people=1))[:10], window_seconds=WINDOW)


async def test_the_anomaly_rule_reports_the_window_and_its_events(model: AnomalyModel) -> None:
    threshold = max(model.scores(rows(ordinary_day(6)))) + 0.01
    rule = Anomaly(model, threshold=threshold, in_thread=False)
    engine = ThreatEngine(MemoryWindows(), rules=[rule])
    attack = sweep()
    day = [*ordinary_day(6), *attack]
    day.sort(key=lambda o: o.at)
    found = [d for e in day for d in await engine.observe(e)]
    found += await engine.finish(day[-1].at)
    assert [(d.kind, d.principal) for d in found] == [("anomaly", "p3")]
    assert found[0].event_ids == tuple(e.id for e in attack[:20])
    assert found[0].score >= threshold and "features" in found[0].details
