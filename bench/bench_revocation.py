"""Revocation across two nodes: from ``DELETE /sessions/{id}`` (and from disabling the
user) on node B to the last video frame a relay viewer on node A receives.

Two server processes share a fresh PostgreSQL database and a throwaway redis-server
(cluster mode). A test device publishes through node B; the viewer signs in, watches
in relay mode through node A (its relay pulls the device across the cluster) and
decodes frames; a second viewer keeps watching throughout, so the relay stays up and
each trial measures revocation, not relay start-up. Each trial: sign in, watch until
frames flow, revoke on node B, then wait until the viewer's connection has closed and
no frame has come for ``QUIET`` seconds; the figure is the time from sending the
revocation to the last frame received (0 when none came after it). The baseline in the
same run is the frame interval itself: at 30 fps one frame period is the resolution of
"the last frame", so a revocation that lands within it is as fast as can be seen.

``LENSGUARD_BENCH_TRIALS`` (200) trials of each kind. Loopback only; stops by itself.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from tests.harness import services
from tests.harness.device import FakeDevice
from tests.harness.server import LiveServer, start_server, strong_secret
from tests.harness.world import PASSWORD, World, auth, bootstrap_admin, open_peer
from tests.media.test_relay import RelayViewer

from bench._setup import with_pg_database

TRIALS = int(os.environ.get("LENSGUARD_BENCH_TRIALS", "200"))
QUIET = 0.5
FRAMES_FIRST = 5


class TimedViewer(RelayViewer):
    """A relay viewer that keeps the arrival time of every decoded frame."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.times: list[float] = []

    def _on_track(self, track: Any) -> None:
        async def pull() -> None:
            while True:
                await track.recv()
                self.frames += 1
                self.times.append(time.perf_counter())

        self._pull = asyncio.ensure_future(pull())

    async def stopped(self, since: float) -> float:
        """Wait until the connection is down and no frame came for QUIET s; the time
        from ``since`` to the last frame after it (0 when none came after it)."""
        async with asyncio.timeout(30):
            while True:
                down = self.pc.connectionState in ("closed", "failed")
                last = self.times[-1] if self.times else 0.0
                if down and time.perf_counter() - last >= QUIET:
                    return max(0.0, last - since)
                await asyncio.sleep(0.02)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _line(name: str, values: list[float]) -> str:
    return (
        f"{name} ({len(values)} trials): p50 {_pct(values, 0.5):.0f} ms, "
        f"p95 {_pct(values, 0.95):.0f} ms, p99 {_pct(values, 0.99):.0f} ms, "
        f"max {max(values) * 1000:.0f} ms"
    )


def _pair(tmp: Path, pg_url: str, redis_url: str) -> tuple[LiveServer, LiveServer]:
    env = {"LENSGUARD_SECRET_KEY": strong_secret()}
    config = {
        "database": {"url": pg_url},
        "redis": {"url": redis_url},
        "limits": {"requests_per_minute": 1_000_000},
        # Many sign-ins and revocations of one account from one address in a few
        # minutes: the detectors would (rightly) act on it; here they only watch.
        "threats": {"responses": {"monitor_only": True}},
    }
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    a = start_server(tmp / "a", config, env=env)
    try:
        b = start_server(tmp / "b", config, env=env)
    except Exception:
        a.stop()
        raise
    return a, b


async def _sign_in(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    answer = await http.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    answer.raise_for_status()
    tokens: dict[str, Any] = answer.json()
    return tokens


async def _trial(
    world_a: World, node_b: httpx.AsyncClient, device_id: str, name: str, revoke: str
) -> float:
    async with httpx.AsyncClient(base_url=world_a.server.base_url, verify=world_a.ssl()) as a:
        tokens = await _sign_in(a, name)
    viewer = TimedViewer(await open_peer(world_a, str(tokens["access_token"])))
    try:
        await viewer.watch(device_id)
        await viewer.frames_at_least(FRAMES_FIRST)
        admin = auth(world_a.admin)
        me = await node_b.get("/api/v1/users/me", headers=auth(str(tokens["access_token"])))
        user_id = me.json()["id"]
        began = time.perf_counter()
        if revoke == "session":
            done = await node_b.delete(f"/api/v1/sessions/{tokens['session_id']}", headers=admin)
        else:
            done = await node_b.patch(
                f"/api/v1/users/{user_id}", headers=admin, json={"disabled": True}
            )
        done.raise_for_status()
        latency = await viewer.stopped(began)
        if revoke == "user":
            again = await node_b.patch(
                f"/api/v1/users/{user_id}", headers=admin, json={"disabled": False}
            )
            again.raise_for_status()
        return latency
    finally:
        await viewer.close()


async def _run(a: LiveServer, b: LiveServer) -> None:
    world_a = World(a, bootstrap_admin(a))
    world_b = World(b, world_a.admin)
    device_id, credential = world_a.device(f"bench-{uuid.uuid4().hex[:6]}", "yard")
    device = await FakeDevice.start(world_b, credential)  # published through node B
    keeper = TimedViewer(await open_peer(world_a, world_a.user("keeper", "viewer")))
    world_a.user("watcher", "viewer")
    try:
        await keeper.watch(device_id)
        await keeper.frames_at_least(30)
        async with httpx.AsyncClient(base_url=b.base_url, verify=world_b.ssl()) as node_b:
            figures: dict[str, list[float]] = {"session": [], "user": []}
            for i in range(TRIALS):
                for kind in ("session", "user"):
                    figures[kind].append(await _trial(world_a, node_b, device_id, "watcher", kind))
                if (i + 1) % 50 == 0:
                    print(f"  {i + 1}/{TRIALS} trials", flush=True)
        gaps = [t2 - t1 for t1, t2 in zip(keeper.times, keeper.times[1:], strict=False)]
        interval = statistics.median(gaps) * 1000
        print(f"baseline: frame interval at the keeper, median {interval:.0f} ms")
        print(_line("DELETE /sessions/{id} on B -> last frame on A", figures["session"]))
        print(_line("disable the user on B -> last frame on A", figures["user"]))
        print(
            f"keeper kept its picture: {keeper.frames} frames, still connected: "
            f"{keeper.pc.connectionState == 'connected'}"
        )
    finally:
        await keeper.close()
        await device.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, services.redis() as redis:

        async def on_pg(pg_url: str) -> None:
            a, b = _pair(Path(tmp), pg_url, redis.url)
            try:
                await _run(a, b)
            finally:
                a.stop()
                b.stop()

        asyncio.run(with_pg_database(on_pg))


if __name__ == "__main__":
    main()
