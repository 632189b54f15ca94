"""Fan-out CPU: server CPU per extra viewer, lensguard relay vs aiortc's stock MediaRelay.

Ours: ``lensguard agent`` (synthetic 640x480@30, VP8) → a real server's media node →
N relay viewers; the node forwards encoded frames. Baseline, same run: a bare aiortc
process receiving the same stream and serving N viewers through ``MediaRelay``
(``buffered=False``), which decodes once and re-encodes for every viewer. CPU is the
relay process's user+system time over a fixed window, as a percentage of one core.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from tests.harness.server import start_server
from tests.harness.world import World, bootstrap_admin, open_peer

VIEWERS = [1, 2, 4, 8]
WINDOW = 8.0
SETTLE = 3.0
WIDTH, HEIGHT = 640, 480
ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def cpu_percent(pid: int) -> float:
    before = cpu_seconds(pid)
    await asyncio.sleep(WINDOW)
    return 100 * (cpu_seconds(pid) - before) / WINDOW


class Viewer:
    """A recvonly aiortc viewer that pulls (decodes) every frame."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames = 0
        self.pc.on("track", self._on_track)
        self._tasks: list[asyncio.Task[None]] = []

    def _on_track(self, track: Any) -> None:
        async def pull() -> None:
            while True:
                await track.recv()
                self.frames += 1

        self._tasks.append(asyncio.ensure_future(pull()))

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()


# -- baseline: a bare aiortc relay process -------------------------------------------


async def baseline_relay() -> None:
    """Pipe protocol: 'upstream' → offer for the publisher; then viewer offers → answers."""
    loop = asyncio.get_running_loop()
    relay = MediaRelay()
    source: list[Any] = []
    up = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    up.addTransceiver("video", direction="recvonly")
    up.on("track", source.append)
    peers = [up]
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        request = json.loads(line)
        if request["op"] == "upstream_offer":
            await up.setLocalDescription(await up.createOffer())
            reply = {"sdp": up.localDescription.sdp}
        elif request["op"] == "upstream_answer":
            await up.setRemoteDescription(RTCSessionDescription(request["sdp"], "answer"))
            reply = {}
        else:
            while not source:
                await asyncio.sleep(0.05)
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            peers.append(pc)
            await pc.setRemoteDescription(RTCSessionDescription(request["sdp"], "offer"))
            pc.addTrack(relay.subscribe(source[0], buffered=False))
            await pc.setLocalDescription(await pc.createAnswer())
            reply = {"sdp": pc.localDescription.sdp}
        print(json.dumps(reply), flush=True)
    for pc in peers:
        await pc.close()


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


async def ask(process: asyncio.subprocess.Process, request: dict[str, Any]) -> dict[str, Any]:
    if process.stdin is None or process.stdout is None:
        raise RuntimeError("no pipes")
    process.stdin.write(json.dumps(request).encode() + b"\n")
    await process.stdin.drain()
    reply: dict[str, Any] = json.loads(await process.stdout.readline())
    return reply


async def run_baseline() -> dict[int, float]:
    relay = await spawn("bench.bench_fanout", "--baseline-relay")
    sender = await spawn("bench.bench_latency", "--baseline-sender", str(WIDTH), str(HEIGHT))
    offer = await ask(relay, {"op": "upstream_offer"})
    answer = await ask(sender, {"sdp": offer["sdp"]})
    await ask(relay, {"op": "upstream_answer", "sdp": answer["sdp"]})
    viewers: list[Viewer] = []
    figures: dict[int, float] = {}
    try:
        for count in VIEWERS:
            while len(viewers) < count:
                viewer = Viewer()
                viewers.append(viewer)
                reply = await ask(relay, {"op": "viewer", "sdp": await viewer.offer()})
                await viewer.answer(reply["sdp"])
            await asyncio.sleep(SETTLE)
            figures[count] = await cpu_percent(relay.pid)
    finally:
        for viewer in viewers:
            await viewer.close()
        for process in (relay, sender):
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
    return figures


# -- ours: agent → lensguard media node → viewers ---------------------------------------


async def run_lensguard(world: World, tmp: Path) -> dict[int, float]:
    device_id, credential = world.device("fanout-bench", "site-a")
    key = tmp / "fanout.key"
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
            str(WIDTH),
            "--height",
            str(HEIGHT),
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
    )
    token = world.user("fanout-viewer", "viewer")
    viewers: list[tuple[Any, Viewer]] = []
    figures: dict[int, float] = {}
    try:
        for count in VIEWERS:
            while len(viewers) < count:
                peer = await open_peer(world, token)
                viewer = Viewer()
                viewers.append((peer, viewer))
                for _ in range(100):
                    await peer.send({"type": "subscribe", "device_id": device_id, "mode": "relay"})
                    reply = await peer.recv(wait=20)
                    if reply["type"] == "subscribed":
                        break
                    await asyncio.sleep(0.3)
                await peer.send({"type": "offer", "to": reply["peer"], "sdp": await viewer.offer()})
                await viewer.answer((await peer.recv("answer", wait=20))["sdp"])
            await asyncio.sleep(SETTLE)
            figures[count] = await cpu_percent(world.server.process.pid)
    finally:
        for peer, viewer in viewers:
            await viewer.close()
            await peer.ws.close()
        agent.terminate()
        await asyncio.to_thread(agent.wait, 15)
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        server = start_server(tmp, {"limits": {"requests_per_minute": 100_000}})
        try:
            world = World(server, bootstrap_admin(server))
            ours = asyncio.run(run_lensguard(world, tmp))
        finally:
            server.stop()
    base = asyncio.run(run_baseline())
    print(f"relay process CPU (% of one core), VP8 {WIDTH}x{HEIGHT}@30, {WINDOW:.0f} s windows")
    print(f"{'viewers':>8} | {'lensguard relay':>16} | {'stock MediaRelay':>17} | ratio")
    for count in VIEWERS:
        ratio = ours[count] / base[count]
        print(f"{count:>8} | {ours[count]:15.1f}% | {base[count]:16.1f}% | {ratio:.2f}x")
    per_ours = (ours[VIEWERS[-1]] - ours[VIEWERS[0]]) / (VIEWERS[-1] - VIEWERS[0])
    per_base = (base[VIEWERS[-1]] - base[VIEWERS[0]]) / (VIEWERS[-1] - VIEWERS[0])
    print(
        f"CPU per extra viewer: lensguard {per_ours:.2f}%  stock {per_base:.2f}%  "
        f"ratio {per_ours / per_base if per_base else float('nan'):.2f}x"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--baseline-relay"]:
        asyncio.run(baseline_relay())
    else:
        main()
