"""Glass-to-glass latency, agent -> viewer, relay and direct (VP8), against a plain aiortc pair.

Ours: ``lensguard agent`` (a separate process, synthetic source) publishing through a
real server to an aiortc viewer in this process — in relay mode through the server's
media node, in direct mode peer to peer. Baseline: a bare aiortc sender process with
the same synthetic source and encoder, signaled over a pipe.
Both stamp the capture time into the frame; the viewer reads it from each decoded
frame, so latency = decode-complete time - capture time, on one machine's clock.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from tests.harness.server import start_server
from tests.harness.world import World, bootstrap_admin, open_peer

from lensguard.agent.sources import SyntheticScene
from lensguard.agent.stamp import frame_luma, read_stamp

SIZES = [(640, 480), (1280, 720)]
FPS = 30
WARMUP = 2.0
SECONDS = 10.0
ROOT = Path(__file__).resolve().parent.parent
Offerer = Callable[[str], Awaitable[str]]


def new_viewer() -> RTCPeerConnection:
    """A recvonly VP8 viewer with no ICE servers (host candidates only)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="recvonly")
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences([c for c in codecs if c.mimeType in ("video/VP8", "video/rtx")])
    return pc


async def measure(offer_answer: Offerer) -> tuple[list[float], int]:
    """Latencies (ms) of frames decoded after the warm-up, and how many frames arrived."""
    pc = new_viewer()
    latencies: list[float] = []
    frames = 0
    done = asyncio.Event()

    async def consume(track: MediaStreamTrack) -> None:
        nonlocal frames
        started: float | None = None
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now_us = time.time_ns() // 1000
            started = started or time.monotonic()
            elapsed = time.monotonic() - started
            stamp = read_stamp(frame_luma(frame))  # type: ignore[arg-type]
            if elapsed >= WARMUP and stamp is not None:
                frames += 1
                latencies.append((now_us - stamp) / 1000)
            if elapsed >= WARMUP + SECONDS:
                done.set()
                return

    tasks: list[asyncio.Task[None]] = []
    pc.on("track", lambda track: tasks.append(asyncio.create_task(consume(track))))
    await pc.setLocalDescription(await pc.createOffer())
    answer = await offer_answer(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    try:
        await asyncio.wait_for(done.wait(), WARMUP + SECONDS + 30)
    finally:
        await pc.close()
        for task in tasks:
            task.cancel()
    return latencies, frames


# -- baseline: a bare aiortc sender in its own process ---------------------------------


async def baseline_sender(width: int, height: int) -> None:
    """Read an offer line on stdin, answer on stdout, stream until stdin closes."""
    loop = asyncio.get_running_loop()
    offer = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    scene = SyntheticScene(width, height, FPS)
    await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
    pc.addTrack(scene)
    await pc.setLocalDescription(await pc.createAnswer())
    print(json.dumps({"sdp": pc.localDescription.sdp}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # EOF: the bench is done
    await pc.close()
    scene.stop()


async def run_baseline(width: int, height: int) -> tuple[list[float], int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_latency",
        "--baseline-sender",
        str(width),
        str(height),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    if process.stdin is None or process.stdout is None:
        raise RuntimeError("no pipes to the sender")
    stdin, stdout = process.stdin, process.stdout

    async def offer_answer(sdp: str) -> str:
        stdin.write(json.dumps({"sdp": sdp}).encode() + b"\n")
        await stdin.drain()
        return str(json.loads(await stdout.readline())["sdp"])

    try:
        return await measure(offer_answer)
    finally:
        stdin.close()
        await asyncio.wait_for(process.wait(), 10)


# -- ours: lensguard agent process, real server ------------------------------------------


async def run_lensguard(
    world: World, width: int, height: int, tmp: Path, mode: str, tag: str = ""
) -> tuple[list[float], int]:
    """Latencies of one agent -> server -> viewer run; ``tag`` keeps repeated runs' names apart."""
    label = tag + mode.replace("+", "-")
    device_id, credential = world.device(f"bench-{label}-{width}x{height}", "site-a")
    if mode == "relay+redaction":
        # Decode, face detection + pixelation, encode once in the relay.
        with world.http() as client:
            client.put(
                f"/api/v1/streams/{device_id}",
                headers={"Authorization": f"Bearer {world.admin}"},
                json={"redact_faces": True},
            ).raise_for_status()
    key = tmp / f"{device_id}.key"
    key.touch(mode=0o600)
    key.write_text(credential)
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lensguard",
            "agent",
            "--server",
            world.server.base_url,
            "--credential-file",
            str(key),
            "--ca-file",
            str(world.server.cert_path),
            "--width",
            str(width),
            "--height",
            str(height),
            "--fps",
            str(FPS),
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
    )
    viewer = await open_peer(world, world.user(f"bench-viewer-{label}-{width}", "viewer"))
    try:
        device_conn = ""
        for _ in range(100):  # until the agent has connected and published
            wire_mode = "relay" if mode.startswith("relay") else mode
            await viewer.send({"type": "subscribe", "device_id": device_id, "mode": wire_mode})
            reply = await viewer.recv(wait=10)
            if reply["type"] == "subscribed":
                device_conn = reply["peer"]
                break
            await asyncio.sleep(0.2)

        async def offer_answer(sdp: str) -> str:
            await viewer.send({"type": "offer", "to": device_conn, "sdp": sdp})
            return str((await viewer.recv("answer", wait=30))["sdp"])

        return await measure(offer_answer)
    finally:
        await viewer.ws.close()
        agent.terminate()
        code = await asyncio.to_thread(agent.wait, 15)
        if code != 0:
            print(f"  (agent exited with {code} on SIGTERM)")


def summary(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return statistics.median(latencies), cuts[94]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        server = start_server(tmp, {"limits": {"requests_per_minute": 100_000}})
        try:
            world = World(server, bootstrap_admin(server))
            for width, height in SIZES:
                base, base_n = asyncio.run(run_baseline(width, height))
                for mode in ("relay", "relay+redaction", "direct"):
                    ours, ours_n = asyncio.run(run_lensguard(world, width, height, tmp, mode))
                    rows.append(
                        (f"{mode} {width}x{height}", summary(ours), ours_n, summary(base), base_n)
                    )
        finally:
            server.stop()
    print(f"VP8 @ {FPS} fps, {SECONDS:.0f} s measured after {WARMUP:.0f} s warm-up; latency in ms")
    header = f"{'mode size':>16} | {'lensguard p50/p95':>18} | {'aiortc pair p50/p95':>20}"
    print(header + " | ratio p50 p95")
    for size, (o50, o95), on, (b50, b95), bn in rows:
        print(
            f"{size:>16} | {o50:7.1f} / {o95:6.1f} | {b50:8.1f} / {b95:7.1f} | "
            f"{o50 / b50:5.2f}x {o95 / b95:5.2f}x   (frames {on} vs {bn})"
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline-sender":
        asyncio.run(baseline_sender(int(sys.argv[2]), int(sys.argv[3])))
    else:
        main()
