"""End-to-end helpers: a restartable server, a running agent, an aiortc viewer."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from lensguard.agent.driver import SimulatedRobot
from lensguard.agent.runner import Agent, AgentConfig
from lensguard.agent.sources import SyntheticScene
from lensguard.agent.stamp import frame_luma, read_stamp
from tests.harness.server import LiveServer, spawn, start_server, strong_secret
from tests.signaling.conftest import Peer, World, bootstrap_admin

SERVER_CONFIG = {"signaling": {"auth_timeout": 5.0}, "limits": {"requests_per_minute": 100_000}}


@dataclass
class Restartable:
    """A server we can stop and start again on the same port and ``var/``."""

    workdir: Path
    secret: str
    world: World

    @classmethod
    def start(cls, workdir: Path) -> Restartable:
        workdir.mkdir(parents=True, exist_ok=True)
        secret = strong_secret()
        server = start_server(workdir, SERVER_CONFIG, env={"LENSGUARD_SECRET_KEY": secret})
        return cls(workdir, secret, World(server, bootstrap_admin(server)))

    def restart(self, timeout: float = 60.0) -> None:
        """Start the server again with the same settings, port, secret and data."""
        old = self.world.server
        config = yaml.safe_load((self.workdir / "lensguard.yaml").read_text())
        process = spawn(self.workdir, config, env={"LENSGUARD_SECRET_KEY": self.secret})
        server = LiveServer(
            process, old.base_url, old.var_dir, old.stdout_path, old.stderr_path, old.cert_path
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited:\n{server.output()}")
            with contextlib.suppress(httpx.TransportError, OSError), server.client() as client:
                if client.get("/healthz").status_code == 200:
                    self.world = World(server, self.world.admin)
                    return
            time.sleep(0.2)
        server.stop()
        raise TimeoutError(f"server did not come back:\n{server.output()}")


@dataclass
class RunningAgent:
    """An agent task with a simulated robot and a synthetic scene."""

    agent: Agent
    robot: SimulatedRobot
    device_id: str
    stop: asyncio.Event
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def running_agent(
    world: World, tmp_path: Path, *, deadman: float = 0.5
) -> AsyncIterator[RunningAgent]:
    """Register a device, write its credential (0600) and run the agent until the block ends."""
    device_id, credential = world.device(f"robot-{uuid.uuid4().hex[:8]}", "site-a")
    key = tmp_path / f"{device_id}.key"
    key.touch(mode=0o600)
    key.write_text(credential)
    robot = SimulatedRobot()
    scene = SyntheticScene(320, 240, fps=15, viewport=robot.viewport)
    config = AgentConfig(
        server=world.server.base_url,
        credential_file=key,
        ca_file=world.server.cert_path,
        deadman=deadman,
        backoff_cap=2.0,
    )
    agent = Agent(config, scene, robot)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await asyncio.wait_for(agent.online.wait(), 30)
        yield RunningAgent(agent, robot, device_id, stop, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        scene.stop()


async def eventually(check: Callable[[], bool], within: float = 30.0) -> None:
    """Wait until ``check()`` holds (polling); fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


@dataclass
class StreamViewer:
    """An aiortc viewer in direct mode: offers recvonly video, reads stamps from frames."""

    peer: Peer
    pc: RTCPeerConnection = field(
        default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[]))
    )
    frames: int = 0
    stamps: list[tuple[int, int]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def watch(self, device_id: str) -> None:
        """Subscribe, offer, apply the device's answer."""
        await self.peer.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
        device = (await self.peer.recv("subscribed", wait=15))["peer"]
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.peer.send({"type": "offer", "to": device, "sdp": self.pc.localDescription.sdp})
        answer = await self.peer.recv("answer", wait=30)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.tasks.append(asyncio.create_task(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            received = time.time_ns() // 1000
            self.frames += 1
            stamp = read_stamp(frame_luma(frame))  # type: ignore[arg-type]
            if stamp is not None:
                self.stamps.append((stamp, received))

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()


async def send_control(peer: Peer, device_id: str, command: str, seq: int, **args: Any) -> None:
    await peer.send(
        {"type": "control", "device_id": device_id, "command": command, "args": args, "seq": seq}
    )
