"""A minimal publishing device for tests: answers offers with a generated video track."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from tests.harness.ice import no_servers
from tests.harness.world import Peer, World, open_peer


class Bars(VideoStreamTrack):
    """Moving bars at 30 fps."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width, self.height, self.n = width, height, 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.n += 1
        img = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        img[:, :, 1] = (np.arange(self.width) * 2 + self.n * 6) % 256
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class FakeDevice:
    """Connects as a device, publishes, answers every offer, records control messages."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.controls: list[dict[str, Any]] = []
        self.viewers: list[dict[str, Any]] = []
        self.pcs: list[RTCPeerConnection] = []
        self.track: VideoStreamTrack = Bars()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, world: World, credential: str) -> FakeDevice:
        device = cls(await open_peer(world, credential))
        await device.peer.send({"type": "publish"})
        await device.peer.recv("published")
        device._task = asyncio.create_task(device._serve())
        return device

    async def _serve(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                message = await self.peer.recv(wait=3600)
                kind = message.get("type")
                if kind == "viewer":
                    self.viewers.append(message)
                elif kind == "control":
                    self.controls.append(message)
                elif kind == "offer":
                    await self._answer(message)

    async def _answer(self, offer: dict[str, Any]) -> None:
        pc = RTCPeerConnection(no_servers())
        self.pcs.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        pc.addTrack(self.track)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.peer.send(
            {"type": "answer", "to": offer["from"], "sdp": pc.localDescription.sdp}
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for pc in self.pcs:
            await pc.close()
        await self.peer.ws.close()
