"""Relay mode end to end: device → server media node → viewers, over a real server."""

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from lensguard.wire.closes import Close
from tests.harness.device import FakeDevice
from tests.harness.ice import no_servers
from tests.harness.world import Peer, World, auth, open_peer

pytestmark = pytest.mark.slow


class RelayViewer:
    """A Python viewer in relay mode: video plus a control data channel."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.pc = RTCPeerConnection(no_servers())
        self.frames = 0
        self.channel = self.pc.createDataChannel("control")
        self.pc.on("track", self._on_track)
        self._pull: asyncio.Task[None] | None = None

    def _on_track(self, track: Any) -> None:
        async def pull() -> None:
            while True:
                await track.recv()
                self.frames += 1

        self._pull = asyncio.ensure_future(pull())

    async def watch(self, device_id: str, prefer: str | None = None) -> None:
        await self.peer.send({"type": "subscribe", "device_id": device_id, "mode": "relay"})
        peer_id = (await self.peer.recv("subscribed", wait=20))["peer"]
        await self.offer_to(peer_id, prefer)

    async def offer_to(self, peer_id: str, prefer: str | None = None) -> None:
        """Offer video (and the control channel) to the relay endpoint ``peer_id``."""
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        if prefer is not None:
            codecs = RTCRtpSender.getCapabilities("video").codecs
            first = [c for c in codecs if c.mimeType == prefer]
            transceiver.setCodecPreferences(first + [c for c in codecs if c not in first])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.peer.send({"type": "offer", "to": peer_id, "sdp": self.pc.localDescription.sdp})
        answer = await self.peer.recv("answer", wait=20)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    async def frames_at_least(self, n: int, wait: float = 30) -> None:
        async def poll() -> None:
            while self.frames < n:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(), wait)

    async def channel_open(self) -> None:
        async def poll() -> None:
            while self.channel.readyState != "open":
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(), 20)

    async def close(self) -> None:
        if self._pull is not None:
            self._pull.cancel()
        await self.pc.close()
        await self.peer.ws.close()


async def test_two_viewers_share_one_upstream_and_control_flows(
    world: World, cleanup: list[Any]
) -> None:
    device_id, credential = world.device(f"relay-{uuid.uuid4().hex[:8]}", "site-a")
    device = await FakeDevice.start(world, credential)
    cleanup.append(device)
    operator = RelayViewer(
        await open_peer(world, world.user(f"op-{uuid.uuid4().hex[:6]}", "operator"))
    )
    watcher = RelayViewer(
        await open_peer(world, world.user(f"vw-{uuid.uuid4().hex[:6]}", "viewer"))
    )
    cleanup += [operator, watcher]
    await operator.watch(device_id)
    await watcher.watch(device_id)
    await operator.frames_at_least(20)
    await watcher.frames_at_least(20)
    # One upstream: the device saw exactly one viewer join, the relay.
    assert [v["principal"]["kind"] for v in device.viewers] == ["system"]
    assert len(device.pcs) == 1

    await operator.channel_open()
    operator.channel.send(
        json.dumps(
            {
                "type": "control",
                "device_id": device_id,
                "command": "move",
                "args": {"angular": 0.3},
                "seq": 1,
            }
        )
    )
    await watcher.channel_open()
    watcher.channel.send(
        json.dumps({"type": "control", "device_id": device_id, "command": "move", "seq": 1})
    )
    refusal = await watcher.peer.recv("error", wait=10)
    assert refusal["code"] == "forbidden"

    async def got_control() -> None:
        while not device.controls:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(got_control(), 10)
    assert len(device.controls) == 1
    assert device.controls[0]["args"]["angular"] == 0.3
    assert device.controls[0]["from"]["name"].startswith("op-")


async def test_revoking_the_viewer_closes_socket_and_peer_connection(
    world: World, cleanup: list[Any]
) -> None:
    device_id, credential = world.device(f"relay-{uuid.uuid4().hex[:8]}", "site-a")
    cleanup.append(await FakeDevice.start(world, credential))
    token = world.user(f"rv-{uuid.uuid4().hex[:6]}", "viewer")
    viewer = RelayViewer(await open_peer(world, token))
    cleanup.append(viewer)
    await viewer.watch(device_id)
    await viewer.frames_at_least(10)
    with world.http() as client:
        assert client.post("/api/v1/auth/logout", headers=auth(token)).status_code == 204
    assert await viewer.peer.closed_with() == Close.UNAUTHENTICATED

    async def video_stopped() -> None:
        # The server closed its peer connection: frames stop (no timing asserted).
        last = viewer.frames
        while True:
            await asyncio.sleep(1.0)
            if viewer.frames == last:
                return
            last = viewer.frames

    await asyncio.wait_for(video_stopped(), 30)


async def test_relay_to_an_offline_device_is_a_clear_error(
    world: World, cleanup: list[Any]
) -> None:
    device_id, _ = world.device(f"off-{uuid.uuid4().hex[:8]}", "site-a")
    viewer = RelayViewer(await open_peer(world, world.user(f"ov-{uuid.uuid4().hex[:6]}", "viewer")))
    cleanup.append(viewer)
    await viewer.peer.send({"type": "subscribe", "device_id": device_id, "mode": "relay"})
    error = await viewer.peer.recv("error", wait=20)
    assert error["code"] == "offline"


async def test_viewer_preferring_h264_still_gets_the_forwarded_vp8(
    world: World, cleanup: list[Any]
) -> None:
    device_id, credential = world.device(f"codec-{uuid.uuid4().hex[:8]}", "site-a")
    cleanup.append(await FakeDevice.start(world, credential))
    viewer = RelayViewer(await open_peer(world, world.user(f"cv-{uuid.uuid4().hex[:6]}", "viewer")))
    cleanup.append(viewer)
    await viewer.watch(device_id, prefer="video/H264")
    await viewer.frames_at_least(10)
    assert "VP8/90000" in viewer.pc.remoteDescription.sdp
    assert "H264" not in viewer.pc.remoteDescription.sdp


async def test_a_misbehaving_client_does_not_disturb_a_live_stream(
    world: World, cleanup: list[Any]
) -> None:
    device_id, credential = world.device(f"calm-{uuid.uuid4().hex[:8]}", "site-a")
    cleanup.append(await FakeDevice.start(world, credential))
    viewer = RelayViewer(
        await open_peer(world, world.user(f"calm-{uuid.uuid4().hex[:6]}", "viewer"))
    )
    cleanup.append(viewer)
    await viewer.watch(device_id)
    await viewer.frames_at_least(10)
    offenders = [
        await open_peer(world, world.user(f"bad-{uuid.uuid4().hex[:6]}", "viewer"))
        for _ in range(3)
    ]
    await offenders[0].ws.send(json.dumps({"type": "offer", "to": "x", "sdp": "v" * 70_000}))
    for _ in range(300):
        try:
            await offenders[1].send({"type": "leave"})
        except Exception:
            break
    await offenders[2].send({"type": "subscribe", "device_id": device_id, "mode": "bogus"})
    for offender in offenders:
        assert await offender.closed_with() == Close.POLICY_VIOLATION
    before = viewer.frames
    await viewer.frames_at_least(before + 30)  # the stream beside them kept flowing
