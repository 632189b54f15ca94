"""A hundred viewers of one stream: relay CPU and memory per viewer, frame rate of every
viewer, and glass-to-glass latency, as viewers are added to one 640x480@30 stream.

``lensguard agent`` publishes a stamped synthetic 640x480@30 VP8 stream through a real
server; viewers watch it in relay mode. The load viewers run in a child process and do
not decode: they receive, decrypt (SRTP) and check RTP — sequence gaps, frames by the
marker bit — and drop the payload, so their cost does not hide the relay's. One probe
viewer in this process decodes and reads the capture time stamped into each frame, for
the latency. At each step (1, 25, 50, 100 load viewers) the figures are taken over a
fixed window: the server process's CPU (user+system, % of one core) and RSS, every
viewer's frame rate, the probe's latency p50/p95. The baseline is the first step, one
viewer, in the same run: CPU and RSS per extra viewer are differences from it.

Loopback only; bounded in viewers and time; stops by itself.
``LENSGUARD_BENCH_VIEWERS`` sets the steps of load viewers ("1,25,50,75,100"); the
probe makes one more. The CPU of the rest of the rig (the load viewers' process, the
agent, the probe's process) is printed too: on two cores it shows where the machine,
not the relay, runs out.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.relay_profile import profile, report

ROOT = Path(__file__).resolve().parent.parent
STEPS = [int(n) for n in os.environ.get("LENSGUARD_BENCH_VIEWERS", "1,25,50,75,100").split(",")]
WINDOW = 8.0
SETTLE = 4.0
FPS = 30
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- the load viewers' process: receive and check RTP, never decode -------------------


class Counts:
    """Per receiver: packets, frames (marker bit), lost sequence numbers, frame times."""

    def __init__(self) -> None:
        self.packets = 0
        self.frames = 0
        self.lost = 0
        self.last_seq: int | None = None
        self.frame_times: list[float] = []


COUNTS: dict[int, Counts] = {}


def _thin_receivers() -> None:
    """Replace aiortc's per-packet receive path after SRTP: count, check, drop."""
    from aiortc import rtcrtpreceiver

    async def handle(self: Any, packet: Any, arrival_time_ms: int) -> None:
        counts = COUNTS.setdefault(id(self), Counts())
        counts.packets += 1
        if counts.last_seq is not None:
            gap = (packet.sequence_number - counts.last_seq) % 65536
            if 1 < gap < 32768:
                counts.lost += gap - 1
        counts.last_seq = packet.sequence_number
        if packet.marker:
            counts.frames += 1
            counts.frame_times.append(time.monotonic())

    rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet = handle  # type: ignore[method-assign]


async def _thin_main() -> None:
    """stdin: one JSON line per command; stdout: one JSON line per answer."""
    _thin_receivers()
    import ssl

    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from websockets.asyncio.client import connect

    config = json.loads(sys.stdin.readline())
    context = ssl.create_default_context(cafile=config["ca"])
    pcs: list[RTCPeerConnection] = []
    sockets = []
    loop = asyncio.get_running_loop()

    async def add(token: str) -> None:
        ws = await connect(config["ws"], ssl=context, max_size=2**20)
        sockets.append(ws)
        await ws.send(json.dumps({"type": "auth", "token": token}))

        async def recv(kind: str) -> dict[str, Any]:
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == kind:
                    return dict(message)
                if message.get("type") == "error":
                    raise RuntimeError(message)

        await recv("ready")
        await ws.send(
            json.dumps({"type": "subscribe", "device_id": config["device"], "mode": "relay"})
        )
        peer = (await recv("subscribed"))["peer"]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.append(pc)
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        await ws.send(json.dumps({"type": "offer", "to": peer, "sdp": pc.localDescription.sdp}))
        answer = await recv("answer")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        if command["do"] == "add":
            for token in command["tokens"]:
                await add(token)
            print(json.dumps({"viewers": len(pcs)}), flush=True)
        elif command["do"] == "reset":
            for counts in COUNTS.values():
                counts.frames = counts.packets = counts.lost = 0
                counts.frame_times.clear()
            print(json.dumps({"reset": True}), flush=True)
        elif command["do"] == "read":
            rows = [
                {"frames": c.frames, "packets": c.packets, "lost": c.lost} for c in COUNTS.values()
            ]
            states = [pc.connectionState for pc in pcs]
            print(json.dumps({"rows": rows, "states": states}), flush=True)
        elif command["do"] == "stop":
            break
    for pc in pcs:
        await pc.close()
    for ws in sockets:
        await ws.close()


# -- the coordinator ------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


class Thin:
    """The load viewers' child process, driven over its stdin/stdout."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--thin"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
        )
        self._send(config)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    async def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self._send(message)
        assert self.process.stdout is not None
        line = await asyncio.to_thread(self.process.stdout.readline)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        try:
            self._send({"do": "stop"})
            self.process.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


async def _probe(world: Any, device_id: str, stop: asyncio.Event) -> list[tuple[float, float]]:
    """The decoding viewer: (monotonic time, latency ms) of every stamped frame."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from tests.harness.ice import no_servers
    from tests.harness.world import open_peer

    from lensguard.agent.stamp import frame_luma, read_stamp

    peer = await open_peer(world, world.user("probe", "viewer"))
    await peer.send({"type": "subscribe", "device_id": device_id, "mode": "relay"})
    relay = (await peer.recv("subscribed", wait=20))["peer"]
    pc = RTCPeerConnection(no_servers())
    pc.addTransceiver("video", direction="recvonly")
    seen = _PROBE_SEEN

    async def consume(track: Any) -> None:
        while not stop.is_set():
            frame = await track.recv()
            now_us = time.time_ns() // 1000
            stamp = read_stamp(frame_luma(frame))
            if stamp is not None:
                seen.append((time.monotonic(), (now_us - stamp) / 1000))

    tasks: list[asyncio.Task[None]] = []
    pc.on("track", lambda track: tasks.append(asyncio.create_task(consume(track))))
    await pc.setLocalDescription(await pc.createOffer())
    await peer.send({"type": "offer", "to": relay, "sdp": pc.localDescription.sdp})
    answer = await peer.recv("answer", wait=20)
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    await stop.wait()
    for task in tasks:
        task.cancel()
    for stat in (await pc.getStats()).values():
        if getattr(stat, "type", "") == "inbound-rtp":
            print(
                f"  the probe received {stat.packetsReceived} packets, lost "
                f"{stat.packetsLost}, jitter {stat.jitter}"
            )
    await pc.close()
    await peer.ws.close()
    return seen


def _accounts(world: Any, names: list[str]) -> list[str]:
    """Viewer accounts' tokens (blocking HTTP: call it on a thread)."""
    return [world.user(name, "viewer") for name in names]


async def _run(world: Any, server_pid: int, agent_pid: int, device_id: str) -> None:
    thin = Thin(
        {
            "ws": world.ws_url,
            "ca": str(world.server.cert_path),
            "device": device_id,
        }
    )
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe(world, device_id, stop))
    rows = []
    try:
        have = 0
        for step in STEPS:
            # Made on a thread: a blocked loop here would starve the probe's socket.
            names = [f"load-{i}" for i in range(have, step)]
            tokens = await asyncio.to_thread(_accounts, world, names)
            await thin.ask({"do": "add", "tokens": tokens})
            have = step
            await asyncio.sleep(SETTLE)
            await thin.ask({"do": "reset"})
            pids = {"relay": server_pid, "viewers": thin.process.pid, "agent": agent_pid}
            pids["probe"] = os.getpid()
            started = time.monotonic()
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            await asyncio.sleep(WINDOW)
            used = {n: 100 * (cpu_seconds(pid) - before[n]) / WINDOW for n, pid in pids.items()}
            cpu = used["relay"]
            ended = time.monotonic()
            read = await thin.ask({"do": "read"})
            counts = read["rows"]
            if len(counts) < step:
                print(f"  only {len(counts)} of {step} load viewers receive: {read['states']}")
            rates = sorted(c["frames"] / WINDOW for c in counts)
            lost = sum(c["lost"] for c in counts)
            packets = sum(c["packets"] for c in counts)
            latencies = [ms for at, ms in (await _peek(probe, stop)) if started <= at <= ended]
            cuts = statistics.quantiles(latencies, n=20) if len(latencies) > 20 else [0.0] * 19
            rows.append(
                {
                    "viewers": step + 1,
                    "cpu": cpu,
                    "rss": rss_mib(server_pid),
                    "min_fps": rates[0],
                    "median_fps": statistics.median(rates),
                    "lost": lost,
                    "packets": packets,
                    "p50": statistics.median(latencies) if latencies else float("nan"),
                    "p95": cuts[18],
                    "rig": used,
                }
            )
            if step == STEPS[-1]:
                sampled = await asyncio.to_thread(profile, server_pid, WINDOW)
                if sampled is None:
                    print("  (no relay profile: py-spy is not installed, run `make tools`)")
                else:
                    print("\n".join(report(sampled, step + 1)), flush=True)
            r = rows[-1]
            print(
                f"  {r['viewers']:>4} viewers: relay CPU {r['cpu']:.1f}% of a core, RSS "
                f"{r['rss']:.0f} MiB, load viewers' fps min {r['min_fps']:.1f} / median "
                f"{r['median_fps']:.1f}, lost {lost} of {packets} packets, probe latency "
                f"p50 {r['p50']:.0f} ms p95 {r['p95']:.0f} ms; the rest of the rig: "
                + ", ".join(f"{n} {v:.0f}%" for n, v in used.items() if n != "relay"),
                flush=True,
            )
    finally:
        stop.set()
        thin.stop()
        await probe
    base = rows[0]
    for r in rows[1:]:
        extra = r["viewers"] - base["viewers"]
        per_cpu = (r["cpu"] - base["cpu"]) / extra
        per_kib = (r["rss"] - base["rss"]) * 1024 / extra
        print(
            f"  {base['viewers']} -> {r['viewers']} viewers: +{per_cpu:.2f}% of a core and "
            f"+{per_kib:.0f} KiB per extra viewer; "
            f"latency p95 {r['p95'] / base['p95']:.2f}x the one-viewer figure"
        )


_PROBE_SEEN: list[tuple[float, float]] = []


async def _peek(probe: asyncio.Task[list[tuple[float, float]]], stop: asyncio.Event) -> list[Any]:
    """What the probe has seen so far (it keeps its list in the module)."""
    return list(_PROBE_SEEN)


def _wait_online(world: Any, device_id: str) -> None:
    """Until the agent has connected and published (presence says online)."""
    from tests.harness.world import auth

    deadline = time.monotonic() + 60
    with world.http() as client:
        while time.monotonic() < deadline:
            found = client.get(f"/api/v1/devices/{device_id}", headers=auth(world.admin))
            if found.json().get("online"):
                return
            time.sleep(0.2)
    raise RuntimeError("the agent did not come online")


def main() -> None:
    from tests.harness.server import start_server
    from tests.harness.world import World, bootstrap_admin

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(
            Path(tmp),
            {
                "limits": {"requests_per_minute": 1_000_000},
                "signaling": {"max_sockets_per_node": 20_000},
                "threats": {"responses": {"monitor_only": True}},
            },
        )
        agent = None
        try:
            world = World(server, bootstrap_admin(server))
            device_id, credential = world.device("bench-fanout-100", "site-a")
            key = Path(tmp) / "device.key"
            key.touch(mode=0o600)
            key.write_text(credential)
            agent = subprocess.Popen(
                [
                    sys.executable, "-m", "lensguard", "agent",
                    "--server", server.base_url,
                    "--credential-file", str(key),
                    "--ca-file", str(server.cert_path),
                    "--width", "640", "--height", "480", "--fps", str(FPS),
                    "--log-level", "WARNING",
                ],
                cwd=ROOT,
            )  # fmt: skip
            _wait_online(world, device_id)
            asyncio.run(_run(world, server.process.pid, agent.pid, device_id))
        except Exception:
            print(server.output()[-4000:])
            raise
        finally:
            if agent is not None:
                agent.terminate()
                agent.wait(15)
            server.stop()


if __name__ == "__main__":
    if "--thin" in sys.argv:
        asyncio.run(_thin_main())
    else:
        main()
