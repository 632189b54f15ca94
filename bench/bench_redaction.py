"""What redaction adds glass to glass, searching every frame and one frame in three.

Same set-up as ``bench_latency.py``: ``lensguard agent`` (a separate process, the
synthetic source) publishing through a real server's relay to an aiortc viewer in this
process, the capture time stamped into each frame. Three rows per size, alternated in
rounds: the relay without processing (the baseline), with ``redact_faces`` searching
every frame (``vision.detect_every`` 1, the default), and on a second server with
``vision.detect_every`` 3 (faces tracked between searches). Added = redaction's p50 minus
the baseline's p50 in the same round; frames = frames decoded in the measured window
(301 expected at 30 fps, give or take one at the window's edges); skipped = frames the
relay's processing stage skipped because it fell behind (its ``skipped`` metric, over
the whole run including the warm-up); CPU = % of one core each of the agent, the
server and the viewer (this process) used over the run, from /proc and ``os.times``.

Rerun: ``python bench/run.py redaction`` (``LG_BENCH_ROUNDS``, default 2).
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from tests.harness.server import start_server
from tests.harness.world import World, bootstrap_admin

from bench.bench_latency import FPS, SECONDS, SIZES, run_lensguard, summary

ROUNDS = int(os.environ.get("LG_BENCH_ROUNDS", "2"))
SKIPPED = re.compile(r'^lensguard_processing_frames_total\{outcome="skipped"\} ([0-9.e+]+)$', re.M)


def skipped(world: World) -> int:
    """Frames the server's processing stages skipped so far (they fell behind), from /metrics."""
    with world.http() as client:
        reply = client.get("/metrics", headers={"Authorization": f"Bearer {world.admin}"})
        reply.raise_for_status()
    found = SKIPPED.search(reply.text)
    return int(float(found.group(1))) if found else 0


ROWS = ("relay", "redaction, every frame", "redaction, 1 in 3")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) that process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def usage(server_pid: int) -> tuple[float, float, float, float]:
    """(wall, agent, server, viewer) seconds so far: the agent is the waited-for child."""
    own = os.times()
    return (
        time.monotonic(),
        own.children_user + own.children_system,
        cpu_of(server_pid),
        own.user + own.system,
    )


def shares(before: tuple[float, ...], after: tuple[float, ...]) -> tuple[float, float, float]:
    """Each of agent, server and viewer as % of one core over the run."""
    wall = after[0] - before[0]
    agent, server, viewer = (
        (a - b) / wall * 100 for a, b in zip(after[1:], before[1:], strict=True)
    )
    return agent, server, viewer


def main() -> None:
    limits = {"limits": {"requests_per_minute": 100_000}}
    results: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    skips: dict[tuple[str, str], list[int]] = {}
    cpu: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "every").mkdir()
        (tmp / "cadence").mkdir()
        every = start_server(tmp / "every", limits)
        cadence = start_server(tmp / "cadence", {**limits, "vision": {"detect_every": 3}})
        try:
            worlds = {
                "every": World(every, bootstrap_admin(every)),
                "cadence": World(cadence, bootstrap_admin(cadence)),
            }
            for round_ in range(ROUNDS):
                for width, height in SIZES:
                    size = f"{width}x{height}"
                    plan = [
                        (ROWS[0], worlds["every"], "relay"),
                        (ROWS[1], worlds["every"], "relay+redaction"),
                        (ROWS[2], worlds["cadence"], "relay+redaction"),
                    ]
                    for row, world, mode in plan:
                        tag = f"r{round_}-{'c' if world is worlds['cadence'] else 'e'}-"
                        before = skipped(world)
                        started = usage(world.server.process.pid)
                        latencies, frames = asyncio.run(
                            run_lensguard(world, width, height, tmp, mode, tag)
                        )
                        cpu_shares = shares(started, usage(world.server.process.pid))
                        frames_skipped = skipped(world) - before
                        cpu.setdefault((size, row), []).append(cpu_shares)
                        p50, p95 = summary(latencies)
                        results.setdefault((size, row), []).append((p50, p95, frames))
                        skips.setdefault((size, row), []).append(frames_skipped)
                        print(
                            f"  round {round_ + 1} {size} {row}: {p50:.1f} / {p95:.1f} ms, "
                            f"{frames} frames; CPU agent / server / viewer "
                            f"{cpu_shares[0]:.0f}% / {cpu_shares[1]:.0f}% / {cpu_shares[2]:.0f}%",
                            flush=True,
                        )
        finally:
            every.stop()
            cadence.stop()
    print(f"VP8 @ {FPS} fps through the relay, {SECONDS:.0f} s measured per run, {ROUNDS} rounds")
    print(
        f"{'size':>9} | {'row':<24} | {'p50 / p95 (ms)':>15} | {'added p50':>9} | frames"
        " | skipped | CPU % agent / server / viewer"
    )
    for width, height in SIZES:
        size = f"{width}x{height}"
        base = results[(size, ROWS[0])]
        for row in ROWS:
            runs = results[(size, row)]
            added = [r[0] - b[0] for r, b in zip(runs, base, strict=True)]
            p50 = statistics.median(r[0] for r in runs)
            p95 = statistics.median(r[1] for r in runs)
            counts = "/".join(str(r[2]) for r in runs)
            extra = "" if row == ROWS[0] else f"{statistics.median(added):+8.1f}"
            skip = "/".join(str(n) for n in skips[(size, row)]) if row != ROWS[0] else "-"
            load = " / ".join(
                f"{statistics.median(c[i] for c in cpu[(size, row)]):.0f}" for i in range(3)
            )
            print(
                f"{size:>9} | {row:<24} | {p50:6.1f} / {p95:6.1f} | {extra:>9} | {counts} | {skip}"
                f" | {load}"
            )
