"""A worker dies mid-stream: the relay keeps publishing, and never the unredacted face.

Two real ``lensguard worker`` processes serve a ``ProcessingStage`` fed real VP8 at
30 fps. One of them is stopped while it holds a job and then killed with SIGKILL, the
case the claim exists for: the survivor takes that job over (stale by then, so it is
skipped) and goes on serving every frame.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import pytest
import redis

from lensguard.media.processing import ProcessingStage
from lensguard.settings import load_settings
from lensguard.vision import Frame, build_chain
from lensguard.vision.jobs import GROUP, STATS_TTL_MS, connect, jobs_key, stats_key
from lensguard.vision.remote import RemoteDetector, remote_chain_builder
from lensguard.vision.worker_stats import read_group
from tests.harness.images import astronaut

pytestmark = pytest.mark.slow

TB = fractions.Fraction(1, 90000)
FPS = 30
SECONDS = 12.0  # the most the stream runs; it stops once the survivor has shown itself
KILL_AT = 2.0


def astronaut_stream(count: int) -> tuple[np.ndarray, list[Any]]:
    """The astronaut at 640x480 as ``count`` VP8 packets (realtime encoder: quick)."""
    image = astronaut((640, 480))
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 640, 480, "yuv420p"
    encoder.time_base, encoder.bit_rate = TB, 2_000_000
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[Any] = []
    for i in range(count):
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = i * 3000, TB
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    return image, packets


def worker_env(redis_url: str, stream: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENSGUARD_")}
    env.update({"LENSGUARD_REDIS__URL": redis_url, "LENSGUARD_VISION__STREAM": stream})
    return env


def lensguard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lensguard", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def stream(redis_url: str) -> Iterator[str]:
    name = f"lgtest:{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{name}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def workers(redis_url: str, stream: str) -> Iterator[dict[str, subprocess.Popen[str]]]:
    env = worker_env(redis_url, stream)
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "lensguard", "worker", "--name", name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("worker-a", "worker-b")
    }
    client = connect(redis_url, timeout_s=5)
    deadline = time.monotonic() + 60
    while len(read_group(client, stream).workers) < 2:
        for proc in procs.values():
            assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.1)
    client.close()
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def held_by(client: redis.Redis, stream: str, name: str) -> int:
    summary = client.xpending(jobs_key(stream), GROUP)
    for consumer in summary["consumers"]:
        if consumer["name"] in (name, name.encode()):
            return int(consumer["pending"])
    return 0


def redacted_or_blank(frame: np.ndarray, original: np.ndarray, box: Any) -> bool:
    """Blank, or the face region clearly differs from the original (the corner does not)."""
    if frame.mean() < 8:
        return True
    x, y, w, h = box
    out = frame.astype(int)
    face_diff = np.abs(out[y : y + h, x : x + w] - original[y : y + h, x : x + w].astype(int))
    corner_diff = np.abs(out[400:470, 10:120] - original[400:470, 10:120].astype(int)).mean()
    return bool(face_diff.mean() > 3 * corner_diff + 5)


async def test_a_killed_worker_never_lets_the_face_through(
    redis_url: str, stream: str, workers: dict[str, subprocess.Popen[str]]
) -> None:
    original, packets = astronaut_stream(int(SECONDS * FPS))
    (face,) = build_chain(["face_detect"]).run(Frame(original)).detections
    settings = load_settings(
        None, redis={"url": redis_url}, vision={"workers": True, "stream": stream}
    )
    chain = remote_chain_builder(settings)(["face_detect", "pixelate_faces"])
    remote = chain._steps[0].processor
    assert isinstance(remote, RemoteDetector)
    received: list[tuple[float, Any]] = []
    stage = ProcessingStage(
        lambda p, k: received.append((time.monotonic(), p)),
        chain=chain,
        mandatory=True,
        loop=asyncio.get_running_loop(),
    )

    enough = asyncio.Event()

    async def feed() -> None:
        started = time.monotonic()
        for i, packet in enumerate(packets):
            if enough.is_set():
                return
            stage.push(packet, i == 0)
            await asyncio.sleep(max(0.0, started + (i + 1) / FPS - time.monotonic()))

    feeding = asyncio.create_task(feed())
    client = connect(redis_url, timeout_s=5)
    await asyncio.sleep(KILL_AT)
    before = {w.name: w.counters for w in read_group(client, stream).workers}
    victim = max(before, key=lambda name: before[name]["processed"])
    survivor = next(name for name in workers if name != victim)
    assert before[victim]["processed"] > 0, before
    # Stopped first so it dies holding a job, the case the claim exists for.
    for _ in range(20):
        workers[victim].send_signal(signal.SIGSTOP)
        await asyncio.sleep(0.25)
        if held_by(client, stream, victim):
            break
        workers[victim].send_signal(signal.SIGCONT)
        await asyncio.sleep(0.05)
    assert held_by(client, stream, victim) >= 1
    workers[victim].kill()
    killed_at = time.monotonic()
    answered_at_kill = remote.stats.answered
    # However long stopping the victim took on this machine, the stream goes on until
    # a second of frames has been published after the kill (or the packets run out).
    while not feeding.done() and sum(at > killed_at for at, _ in received) < FPS:
        await asyncio.sleep(0.05)
    enough.set()
    await feeding
    for _ in range(100):
        if not stage._busy:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    stage.close()
    # Read now, not waited for: a dead worker refreshes nothing, so its counters are
    # gone already or expire on their own within STATS_TTL_MS.
    victim_ttl = client.pttl(stats_key(stream, victim))
    client.close()

    report = lensguard(worker_env(redis_url, stream), "worker", "--stats", "--json")
    assert report.returncode == 0, report.stderr
    shown = {w["name"]: w["counters"] for w in json.loads(report.stdout)["workers"]}
    workers[survivor].send_signal(signal.SIGTERM)
    out, err = workers[survivor].communicate(timeout=30)
    counts = stage.stats
    print(
        f"stage: received {counts.received}, processed {counts.processed}, skipped "
        f"{counts.skipped}, failed {counts.failed}, published {counts.published}; "
        f"remote: {remote.stats}; survivor {survivor}: {shown.get(survivor)}"
    )

    assert workers[survivor].returncode == 0, err
    assert f"worker {survivor} stopped: processed" in out
    assert survivor in shown, shown
    assert victim_ttl == -2 or 0 < victim_ttl <= STATS_TTL_MS, "the dead worker's counters stay"
    assert shown[survivor]["processed"] > before[survivor]["processed"]
    assert shown[survivor]["claimed"] >= 1, shown
    assert shown[survivor]["skipped"] >= 1, shown  # the dead worker's job, stale by then
    assert remote.stats.answered > answered_at_kill, remote.stats
    assert counts.processed > 0 and counts.published > 0
    after = [p for at, p in received if at > killed_at]
    assert len(after) >= FPS, f"only {len(after)} frames published after the kill"

    decoder = av.CodecContext.create("vp8", "r")
    frames = [f.to_ndarray(format="bgr24") for _, p in received for f in decoder.decode(p)]
    assert len(frames) == len(received)
    leaked = [i for i, f in enumerate(frames) if not redacted_or_blank(f, original, face.box)]
    assert not leaked, f"frames {leaked} show the face"
    blank = sum(f.mean() < 8 for f in frames)
    assert blank < len(frames), "every frame blank: the workers never answered in time"
