"""aiortc test peers: a synthetic camera track and a relay-only offer/answer pair."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    VideoStreamTrack,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from av import VideoFrame

WIDTH, HEIGHT = 320, 240


class PatternTrack(VideoStreamTrack):
    """A moving colour-bar test pattern (numpy), 30 fps, so frames visibly change."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        x = np.arange(WIDTH, dtype=np.uint16)
        self.bars = np.stack([(x * 3) % 256, (x * 7) % 256, (x * 11) % 256], axis=-1)

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.count += 1
        row = np.roll(self.bars, self.count * 4, axis=0).astype(np.uint8)
        image = np.ascontiguousarray(np.broadcast_to(row, (HEIGHT, WIDTH, 3)))
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


def ice_config(servers: list[dict[str, Any]], *, relay_only: bool) -> RTCConfiguration:
    """An aiortc configuration from the API's ``ice_servers`` list."""
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(
        iceServers=[RTCIceServer(**server) for server in servers], iceTransportPolicy=policy
    )


@dataclass
class Pair:
    """A caller that sends video and opens a data channel, and a callee that echoes."""

    caller: RTCPeerConnection
    callee: RTCPeerConnection
    channel: RTCDataChannel
    received: asyncio.Queue[MediaStreamTrack] = field(default_factory=asyncio.Queue)

    async def close(self) -> None:
        await self.caller.close()
        await self.callee.close()


async def offer_answer(config: RTCConfiguration) -> Pair:
    """Two peers negotiated directly (no signaling server): offer, answer, done."""
    caller, callee = RTCPeerConnection(config), RTCPeerConnection(config)
    pair = Pair(caller, callee, caller.createDataChannel("control"))
    caller.addTrack(PatternTrack())

    @callee.on("datachannel")
    def on_channel(channel: RTCDataChannel) -> None:
        @channel.on("message")
        def echo(message: str) -> None:
            channel.send(f"echo:{message}")

    @callee.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        pair.received.put_nowait(track)

    # aiortc gathers completely inside setLocalDescription: no trickle to handle.
    await caller.setLocalDescription(await caller.createOffer())
    await callee.setRemoteDescription(caller.localDescription)
    await callee.setLocalDescription(await callee.createAnswer())
    await caller.setRemoteDescription(callee.localDescription)
    return pair


async def round_trip(channel: RTCDataChannel, text: str, wait: float = 5.0) -> str:
    """Send ``text`` on an open data channel; the echo that comes back."""
    reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_message(message: str) -> None:
        if not reply.done():
            reply.set_result(message)

    channel.on("message", on_message)
    if channel.readyState != "open":
        opened = asyncio.Event()
        channel.on("open", opened.set)
        await asyncio.wait_for(opened.wait(), wait)
    channel.send(text)
    try:
        return await asyncio.wait_for(reply, wait)
    finally:
        channel.remove_listener("message", on_message)


def local_candidate_types(pc: RTCPeerConnection) -> set[str]:
    """Types of the local ICE candidates of ``pc``'s (bundled) transport."""
    dtls = pc.getTransceivers()[0].sender.transport
    return {c.type for c in dtls.transport.iceGatherer.getLocalCandidates()}
