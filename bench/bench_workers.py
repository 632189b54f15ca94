"""Vision workers: redaction through ``lensguard worker`` processes vs in the relay.

The chain is ``face_detect + pixelate_faces`` on the astronaut photo at 640x480. The
baseline, in the same run, is the in-process chain (what the relay runs with
``vision.workers`` off). Against it: the same chain with ``face_detect`` offloaded
(``remote_chain_builder``) to 1 and 2 real ``lensguard worker`` processes over Redis
Streams. Each setup is measured with 1 and 2 streams (one chain per stream, each on
its own thread, as the relay runs one processing thread per stream), frames back to
back, in three rounds that interleave the setups so background load hits them alike.
Reported: frames per second over all streams (median round), the per-frame round trip
(``chain.run``; median and p95) and the relay's own CPU per frame (this process:
JPEG, Redis, pixelation), which is what offloading frees on a media node. OpenCV
uses one thread everywhere (``cv2.setNumThreads(1)``; workers set it themselves).
The worker timeout is raised to 1 s so a slow answer is measured, not replaced.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
from skimage import data
from tests.harness import services

from lensguard.settings import load_settings
from lensguard.vision import Chain, Frame, build_chain
from lensguard.vision.jobs import connect
from lensguard.vision.remote import remote_chain_builder
from lensguard.vision.worker_stats import read_group

CHAIN = ["face_detect", "pixelate_faces"]
SECONDS = 2.0
ROUNDS = 3
BASELINE = "in-process (baseline)"
WARMUP = 5
STREAMS = (1, 2)
WORKERS = (1, 2)


@dataclass
class Run:
    """One measurement: frames, seconds, the relay's CPU seconds, every round trip (ms)."""

    frames: int
    wall: float
    cpu: float
    ms: list[float]


@dataclass
class Figures:
    fps: float
    median_ms: float
    p95_ms: float
    relay_cpu_ms: float

    @classmethod
    def of(cls, runs: list[Run]) -> Figures:
        """Median rate over the rounds; latency and CPU over every frame of every round."""
        every = sorted(ms for run in runs for ms in run.ms)
        frames = sum(run.frames for run in runs)
        return cls(
            fps=statistics.median(run.frames / run.wall for run in runs),
            median_ms=statistics.median(every),
            p95_ms=every[int(0.95 * (len(every) - 1))],
            relay_cpu_ms=sum(run.cpu for run in runs) * 1000.0 / frames,
        )


def astronaut() -> np.ndarray:
    return cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (640, 480))


def measure(chains: list[Chain], frame: Frame) -> Run:
    """Run the chains concurrently (a thread each) for SECONDS, back to back."""
    samples: list[list[float]] = [[] for _ in chains]
    start = threading.Barrier(len(chains) + 1)

    def loop(chain: Chain, out: list[float]) -> None:
        start.wait()
        until = time.perf_counter() + SECONDS
        while time.perf_counter() < until:
            began = time.perf_counter()
            result = chain.run(frame)
            out.append((time.perf_counter() - began) * 1000.0)
            assert result.detections, "the face was not found"

    pairs = zip(chains, samples, strict=True)
    threads = [threading.Thread(target=loop, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    cpu, wall = time.process_time(), time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    every = [ms for s in samples for ms in s]
    return Run(len(every), time.perf_counter() - wall, time.process_time() - cpu, every)


@contextmanager
def workers(url: str, stream: str, count: int) -> Iterator[None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENSGUARD_")}
    env.update({"LENSGUARD_REDIS__URL": url, "LENSGUARD_VISION__STREAM": stream})
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lensguard", "worker", "--name", f"bench-{i}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]
    client = connect(url, timeout_s=5)
    try:
        deadline = time.monotonic() + 60
        while len(read_group(client, stream).workers) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the workers did not start")
            time.sleep(0.1)
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        for key in client.scan_iter(match=f"{stream}:*"):
            client.delete(key)
        client.close()


def row(label: str, streams: int, figures: Figures, base: Figures | None) -> None:
    ratio = f"{figures.fps / base.fps:6.2f}x" if base else "    1x"
    print(
        f"  {label:22s} {streams:7d} {figures.fps:8.1f} {ratio} {figures.median_ms:9.1f} "
        f"{figures.p95_ms:8.1f} {figures.relay_cpu_ms:12.1f}"
    )


def main() -> None:
    cv2.setNumThreads(1)
    frame = Frame(astronaut())
    builders: dict[str, Callable[[list[str]], Chain]] = {BASELINE: build_chain}
    with services.redis() as server, ExitStack() as stack:
        for count in WORKERS:
            # Every setup's workers run for the whole benchmark (idle ones only wait
            # on Redis), so the rounds can interleave the setups.
            stream = f"lgbench:{uuid.uuid4().hex[:8]}"
            stack.enter_context(workers(server.url, stream, count))
            settings = load_settings(
                None,
                redis={"url": server.url},
                vision={"workers": True, "stream": stream, "timeout_ms": 1000},
            )
            builders[f"{count} worker{'s' if count > 1 else ''}"] = remote_chain_builder(settings)
        runs: dict[tuple[str, int], list[Run]] = {}
        chains = {
            (label, n): [build(CHAIN) for _ in range(n)]
            for label, build in builders.items()
            for n in STREAMS
        }
        for every in chains.values():
            for chain in every:
                for _ in range(WARMUP):
                    chain.run(frame)
        for _ in range(ROUNDS):
            for key, every in chains.items():
                runs.setdefault(key, []).append(measure(every, frame))
    print(
        f"OpenCV {cv2.__version__}, 1 thread per process; 640x480; {os.cpu_count()} cores; "
        f"median of {ROUNDS} interleaved rounds of {SECONDS:g} s"
    )
    print(
        f"  {'setup':22s} {'streams':>7s} {'fps':>8s} {'ratio':>7s} {'median ms':>9s} "
        f"{'p95 ms':>8s} {'relay CPU ms':>12s}"
    )
    for (label, n), measured in runs.items():
        base = None if label == BASELINE else Figures.of(runs[(BASELINE, n)])
        row(label, n, Figures.of(measured), base)


if __name__ == "__main__":
    main()
