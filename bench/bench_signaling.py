"""Signaling at scale: idle authenticated sockets per node, and message relay latency.

1. Sockets: open N authenticated /v1/signal connections to one embedded node and
   hold them; report server memory per socket and that all still answer a ping.
   Baseline: a bare uvicorn + Starlette TLS WebSocket server holding N sockets.
2. Relay latency: viewers send numbered offers to paired devices through the server;
   the devices record latency and check sequence numbers (0 lost expected).
   Embedded (in-process bus) side by side with cluster (two nodes, Redis bus,
   viewers on one node and devices on the other).
3. The same relay latency on the embedded node while one other client floods it at
   ``FLOOD_RATE`` messages a second (bench/flood.py, its own process: closed by the
   per-connection budget, it reconnects and goes on), against the idle run of 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import ssl
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from tests.harness.ports import free_port, wait_for_port
from tests.harness.server import LiveServer, start_server, strong_secret
from tests.harness.world import World, bootstrap_admin
from websockets.asyncio.client import ClientConnection, connect

from bench.flood import Flooder

SOCKETS = int(os.environ.get("LG_BENCH_SOCKETS", "5000"))
PAIRS = 20
RATE_PER_PAIR = 40  # messages a second per viewer (the per-connection budget is 50)
SECONDS = 10
FLOOD_RATE = 10_000
PG_ADMIN = os.environ.get("LENSGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("LENSGUARD_TEST_REDIS", "redis://127.0.0.1:6379/9")


# An offer the server's SDP check accepts (one data-channel section with DTLS and ICE);
# the origin line carries the message's number and the time it was sent.
OFFER = "\r\n".join(
    [
        "v=0",
        "o=- {seq} {sent} IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        "a=mid:0",
        "a=sctp-port:5000",
        "a=ice-ufrag:bench",
        "a=ice-pwd:benchbenchbenchbenchbe",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "",
    ]
)


def stamped_offer(seq: int, sent_ns: int) -> str:
    return OFFER.format(seq=seq, sent=sent_ns)


def stamp_of(sdp: str) -> tuple[int, int]:
    """(number, send time in ns) from an offer made by ``stamped_offer``."""
    origin = sdp.split("\r\n", 2)[1].split()
    return int(origin[1]), int(origin[2])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def open_many(url: str, ctx: ssl.SSLContext | None, n: int, first: str | None) -> list[Any]:
    sockets: list[ClientConnection] = []

    async def one() -> None:
        ws = await connect(url, ssl=ctx, open_timeout=60, ping_interval=None, compression=None)
        if first is not None:
            await ws.send(first)
            ready = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if ready.get("type") != "ready":
                raise RuntimeError(f"not ready: {ready}")
        sockets.append(ws)

    for start in range(0, n, 200):
        await asyncio.gather(*(one() for _ in range(min(200, n - start))))
    return sockets


async def alive(sockets: list[Any]) -> int:
    async def ping(ws: Any) -> bool:
        try:
            await asyncio.wait_for(await ws.ping(), 30)
            return True
        except Exception:
            return False

    results = []
    for start in range(0, len(sockets), 500):
        results += await asyncio.gather(*(ping(ws) for ws in sockets[start : start + 500]))
    return sum(results)


BARE_SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    async def ws(websocket):
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except Exception:
            pass
    app = Starlette(routes=[WebSocketRoute("/ws", ws)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_certfile=sys.argv[2],
                ssl_keyfile=sys.argv[3], log_level="warning")
    """
)


async def socket_figures(
    server: LiveServer, token: str, ctx: ssl.SSLContext | None
) -> dict[str, float]:
    scheme = {"https://": "wss://", "http://": "ws://"}
    url = next(server.base_url.replace(a, b) for a, b in scheme.items() if a in server.base_url)
    url += "/v1/signal"
    before = rss_kib(server.process.pid)
    started = time.perf_counter()
    sockets = await open_many(url, ctx, SOCKETS, json.dumps({"type": "auth", "token": token}))
    opened = time.perf_counter() - started
    await asyncio.sleep(5)
    after = rss_kib(server.process.pid)
    answering = await alive(sockets)
    for ws in sockets:
        await ws.close()
    return {"opened_s": opened, "kib_per_socket": (after - before) / SOCKETS, "alive": answering}


async def bare_figures(cert: Path, key: Path, ctx: ssl.SSLContext) -> dict[str, float]:
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(BARE_SERVER)
    proc = subprocess.Popen([sys.executable, fh.name, str(port), str(cert), str(key)])
    try:
        wait_for_port(port)
        await asyncio.sleep(0.5)
        before = rss_kib(proc.pid)
        started = time.perf_counter()
        sockets = await open_many(f"wss://localhost:{port}/ws", ctx, SOCKETS, None)
        opened = time.perf_counter() - started
        await asyncio.sleep(5)
        after = rss_kib(proc.pid)
        answering = await alive(sockets)
        for ws in sockets:
            await ws.close()
        return {
            "opened_s": opened,
            "kib_per_socket": (after - before) / SOCKETS,
            "alive": answering,
        }
    finally:
        proc.terminate()
        proc.wait()
        os.unlink(fh.name)


async def relay_latency(viewer_world: World, device_world: World) -> dict[str, float]:
    ctx_v, ctx_d = viewer_world.ssl(), device_world.ssl()
    token = viewer_world.user(f"bench-{uuid.uuid4().hex[:6]}", "operator")
    latencies: list[float] = []
    lost = 0
    received = 0

    async def run_pair(index: int) -> None:
        nonlocal lost, received
        device_id, credential = viewer_world.device(f"bench-{uuid.uuid4().hex[:10]}", "bench")
        device = await connect(device_world.ws_url, ssl=ctx_d, compression=None)
        await device.send(json.dumps({"type": "auth", "token": credential}))
        await device.recv()
        await device.send(json.dumps({"type": "publish"}))
        await device.recv()
        viewer = await connect(viewer_world.ws_url, ssl=ctx_v, compression=None)
        await viewer.send(json.dumps({"type": "auth", "token": token}))
        await viewer.recv()
        await viewer.send(
            json.dumps({"type": "subscribe", "device_id": device_id, "mode": "direct"})
        )
        peer = None
        while peer is None:
            message = json.loads(await viewer.recv())
            peer = message.get("peer") if message.get("type") == "subscribed" else None
        total = RATE_PER_PAIR * SECONDS

        async def receive() -> None:
            nonlocal lost, received
            expected = 0
            while expected < total:
                message = json.loads(await asyncio.wait_for(device.recv(), 30))
                if message.get("type") != "offer":
                    continue
                seq, sent = stamp_of(message["sdp"])
                latencies.append((time.perf_counter_ns() - sent) / 1e6)
                lost += seq - expected
                expected = seq + 1
                received += 1

        receiver = asyncio.create_task(receive())
        for seq in range(total):
            sdp = stamped_offer(seq, time.perf_counter_ns())
            await viewer.send(json.dumps({"type": "offer", "to": peer, "sdp": sdp}))
            await asyncio.sleep(1 / RATE_PER_PAIR)
        await receiver
        await viewer.close()
        await device.close()

    await asyncio.gather(*(run_pair(i) for i in range(PAIRS)))
    latencies.sort()
    return {
        "messages": received,
        "lost": lost,
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95)],
        "p99": latencies[int(len(latencies) * 0.99)],
    }


def world_on(path: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> World:
    server = start_server(path, {"limits": {"requests_per_minute": 1_000_000}, **config}, env=env)
    return World(server, bootstrap_admin(server))


async def main_async() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "embedded").mkdir()
        # The same node with TLS ended in front of it (nginx, docs/deployment.md): what
        # the node itself holds per socket without its TLS state.
        (root / "plain").mkdir()
        plain_world = world_on(root / "plain", {"security": {"encryption": {"enabled": False}}})
        try:
            plain_token = plain_world.user("bench-idle", "viewer")
            plain = await socket_figures(plain_world.server, plain_token, None)
        finally:
            plain_world.server.stop()
        embedded = world_on(root / "embedded", {})
        try:
            ctx = embedded.ssl()
            token = embedded.user("bench-idle", "viewer")
            ours = await socket_figures(embedded.server, token, ctx)
            assert embedded.server.cert_path is not None
            bare = await bare_figures(
                embedded.server.cert_path, embedded.server.var_dir / "tls-key.pem", ctx
            )
            print(f"idle sockets held per node: {SOCKETS}")
            print(
                f"  lensguard /v1/signal (authenticated)  opened in {ours['opened_s']:.1f}s  "
                f"{ours['kib_per_socket']:.1f} KiB/socket  answering {ours['alive']:.0f}"
            )
            print(
                f"  bare uvicorn WebSocket (no auth)       opened in {bare['opened_s']:.1f}s  "
                f"{bare['kib_per_socket']:.1f} KiB/socket  answering {bare['alive']:.0f}"
            )
            ratio = ours["kib_per_socket"] / max(bare["kib_per_socket"], 0.1)
            print(f"  memory ratio lensguard/bare            {ratio:.2f}x")
            print(
                f"  lensguard behind a TLS proxy (plain)   opened in {plain['opened_s']:.1f}s  "
                f"{plain['kib_per_socket']:.1f} KiB/socket  answering {plain['alive']:.0f}"
            )
            local = await relay_latency(embedded, embedded)
            assert embedded.server.cert_path is not None
            flooder = Flooder(
                embedded.ws_url,
                str(embedded.server.cert_path),
                embedded.user("bench-flood", "viewer"),
                seconds=SECONDS + 4,
                rate=FLOOD_RATE,
            )
            flooder.start()
            await asyncio.sleep(2)  # the flood is under way before the victims start
            flooded = await relay_latency(embedded, embedded)
            flood = await asyncio.to_thread(flooder.result)
        finally:
            embedded.server.stop()

        name = f"lg_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(  # nosemgrep: string-built-sql (a name made here)
            f'CREATE DATABASE "{name}"'
        )
        await admin.close()
        pg_url = PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
        config = {"database": {"url": f"{pg_url}/{name}"}, "redis": {"url": REDIS}}
        env = {"LENSGUARD_SECRET_KEY": strong_secret()}
        (root / "a").mkdir()
        (root / "b").mkdir()
        node_a = world_on(root / "a", config, env)
        node_b = World(
            start_server(
                root / "b", {"limits": {"requests_per_minute": 1_000_000}, **config}, env=env
            ),
            node_a.admin,
        )
        try:
            cluster = await relay_latency(node_a, node_b)
        finally:
            node_a.server.stop()
            node_b.server.stop()
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(  # nosemgrep: string-built-sql (a name made here)
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
            await admin.close()

    print(f"signaling relay latency, {PAIRS} pairs x {RATE_PER_PAIR} msg/s x {SECONDS}s (ms)")
    for label, r in (("embedded (in-process bus)", local), ("cluster (2 nodes, Redis)", cluster)):
        print(
            f"  {label:28s} p50 {r['p50']:.2f}  p95 {r['p95']:.2f}  p99 {r['p99']:.2f}  "
            f"messages {r['messages']:.0f}  lost {r['lost']:.0f}"
        )
    print(f"  p99 ratio cluster/embedded   {cluster['p99'] / local['p99']:.2f}x")
    print(
        f"embedded, while one client floods at {FLOOD_RATE} msg/s: "
        f"sent {flood['sent']} in {flood['connections']} connections, "
        f"{flood['closed']} closed by the server"
    )
    for label, r in (("victims, idle (run 2)", local), ("victims, during the flood", flooded)):
        print(
            f"  {label:28s} p50 {r['p50']:.2f}  p95 {r['p95']:.2f}  p99 {r['p99']:.2f}  "
            f"messages {r['messages']:.0f}  lost {r['lost']:.0f}"
        )
    print(f"  p99 ratio flood/idle         {flooded['p99'] / local['p99']:.2f}x")


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
