"""Threat detection: detection rate, false positives, time to detect, events per second.

The labelled set comes from ``bench/threat_traffic.py`` (days of ordinary use with
attacks of every kind hidden in it). Quality is measured on a seed the rules were not
tuned on, and on two more, to show the spread. Speed: the whole engine over the same
events, one core, against the baseline of only decoding each line and building its
observation (the floor any detector pays); and the cluster windows (Redis) on a sample.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

from bench.threat_traffic import ATTACK_KINDS, Traffic, generate, lines
from lensguard.threats.detection import Detection
from lensguard.threats.engine import ThreatEngine
from lensguard.threats.model import AnomalyModel
from lensguard.threats.observation import Observation, from_json
from lensguard.threats.training import rows_of
from lensguard.threats.windows import MemoryWindows, RedisWindows

SEEDS = (20261206, 7, 99)
REDIS_URL = os.environ.get("LENSGUARD_BENCH_REDIS", "redis://127.0.0.1:6379/15")
REDIS_SAMPLE = 20_000
WINDOW = 600.0


async def _detect(observations: list[Observation], engine: ThreatEngine) -> list[Detection]:
    found: list[Detection] = []
    for event in observations:
        found.extend(await engine.observe(event))
    return found


def _quality(traffic: Traffic, detections: list[Detection], events: int) -> dict[str, Any]:
    starts = {}
    times = {e["id"]: datetime.fromisoformat(e["time"]).timestamp() for e in traffic.events}
    owner: dict[str, str] = {}
    for label, (_, ids) in traffic.attacks.items():
        starts[label] = min(times[i] for i in ids)
        for i in ids:
            owner[i] = label
    caught: dict[str, float] = {}
    caught_any: set[str] = set()
    false_positives: list[Detection] = []
    for d in detections:
        labels = {owner[i] for i in d.event_ids if i in owner}
        if not labels:
            false_positives.append(d)
        for label in labels:
            caught_any.add(label)
            if traffic.attacks[label][0] == d.kind and label not in caught:
                caught[label] = d.time.timestamp() - starts[label]
    normal = events - len(owner)
    per_kind = {}
    for kind in ATTACK_KINDS:
        labels = [lbl for lbl, (k, _) in traffic.attacks.items() if k == kind]
        delays = [caught[lbl] for lbl in labels if lbl in caught]
        per_kind[kind] = (
            len(delays) / len(labels),
            sum(lbl in caught_any for lbl in labels) / len(labels),
            statistics.median(delays) if delays else float("nan"),
            max(delays) if delays else float("nan"),
        )
    fp_kinds: dict[str, int] = defaultdict(int)
    for d in false_positives:
        fp_kinds[d.kind] += 1
    return {
        "per_kind": per_kind,
        "false_positives": len(false_positives),
        "normal": normal,
        "fp_kinds": dict(fp_kinds),
    }


def quality(seed: int) -> dict[str, Any]:
    traffic = generate(seed)
    observations = [from_json(e) for e in traffic.sorted_events()]
    engine = ThreatEngine(MemoryWindows())
    detections = asyncio.run(_detect(observations, engine))
    return _quality(traffic, detections, len(observations))


def _print_quality(seed: int, found: dict[str, Any]) -> None:
    print(f"\nseed {seed}: {found['normal']:,} ordinary events")
    print(f"{'kind':<26}{'detected':>9}{'any kind':>9}{'median TTD':>12}{'max TTD':>10}")
    for kind, (rate, any_rate, median, worst) in found["per_kind"].items():
        print(f"{kind:<26}{rate:>8.0%}{any_rate:>9.0%}{median:>11.1f}s{worst:>9.1f}s")
    per_10k = found["false_positives"] / found["normal"] * 10_000
    print(
        f"false positives: {found['false_positives']} ({per_10k:.2f} per 10,000 ordinary "
        f"events) {found['fp_kinds']}"
    )


def _rate(run: Any, count: int) -> float:
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


async def _redis_rate(observations: list[Observation]) -> float:
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.flushdb()
        engine = ThreatEngine(RedisWindows(redis, prefix="bench:threats:"))
        started = time.perf_counter()
        await _detect(observations, engine)
        return len(observations) / (time.perf_counter() - started)
    finally:
        await redis.flushdb()
        await redis.aclose()


def speed() -> None:
    traffic = generate(SEEDS[0])
    text = list(lines(traffic.sorted_events()))
    count = len(text)

    def baseline() -> None:
        for line in text:
            from_json(json.loads(line))

    def ours() -> None:
        engine = ThreatEngine(MemoryWindows())
        asyncio.run(_detect([from_json(json.loads(line)) for line in text], engine))

    base = max(_rate(baseline, count) for _ in range(3))
    full = max(_rate(ours, count) for _ in range(3))
    print(f"\nspeed over {count:,} events, one core:")
    print(f"  decode + observation only (baseline): {base:>10,.0f} events/s")
    print(f"  decode + every rule, memory windows:  {full:>10,.0f} events/s ({full / base:.2f}x)")
    sample = [from_json(json.loads(line)) for line in text[:REDIS_SAMPLE]]
    try:
        cluster = asyncio.run(_redis_rate(sample))
    except OSError as exc:
        print(f"  Redis windows: skipped ({exc.__class__.__name__}: is Redis at {REDIS_URL}?)")
        return
    ratio = cluster / full
    print(f"  every rule, Redis windows (cluster):  {cluster:>10,.0f} events/s ({ratio:.2f}x)")


def model_figures() -> None:
    """Train on a clean set (no attacks, another seed), score the labelled one."""
    clean = generate(1, per_kind=0)
    observations = [from_json(e) for e in clean.sorted_events()]
    started = time.perf_counter()
    rows = rows_of(observations, WINDOW)
    featured = len(observations) / (time.perf_counter() - started)
    started = time.perf_counter()
    model = AnomalyModel.fit(rows, window_seconds=WINDOW)
    fitted = time.perf_counter() - started
    test = generate(SEEDS[0])
    test_rows = rows_of([from_json(e) for e in test.sorted_events()], WINDOW)
    started = time.perf_counter()
    scores = model.scores(test_rows)
    scored = len(test_rows) / (time.perf_counter() - started)
    owner = {i: label for label, (_, ids) in test.attacks.items() for i in ids}
    print(f"\nanomaly model: trained on {len(rows):,} windows of a clean set in {fitted:.2f}s;")
    print(f"scoring {len(test_rows):,} windows of seed {SEEDS[0]} ({WINDOW:.0f} s each)")
    print(f"{'threshold':<11}{'FP windows':>11}{'per 10k':>9}  attacks caught per kind (of 20)")
    for threshold in (0.60, 0.65, 0.70):
        caught: set[str] = set()
        false, normal = 0, 0
        for row, score in zip(test_rows, scores, strict=True):
            labels = {owner[i] for i in row.event_ids if i in owner}
            normal += not labels
            if score >= threshold:
                caught |= labels
                false += not labels
        per = {k: sum(test.attacks[c][0] == k for c in caught) for k in ATTACK_KINDS}
        shown = " ".join(f"{k.split('_')[0][:6]}={n}" for k, n in per.items())
        print(f"{threshold:<11.2f}{false:>11}{false / normal * 10_000:>9.0f}  {shown}")
    print(f"features: {featured:,.0f} events/s; scoring: {scored:,.0f} windows/s (one batch)")


def main() -> None:
    for seed in SEEDS:
        _print_quality(seed, quality(seed))
    model_figures()
    speed()


if __name__ == "__main__":
    main()
