"""The agent checks viewers' candidates like the relay does: none in reserved ranges."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCIceServer, RTCPeerConnection

from lensguard.agent.peer import Publisher
from lensguard.agent.runner import AgentConfig, ConfigError, remote_addresses
from lensguard.agent.sources import SyntheticScene
from lensguard.media.addresses import networks
from lensguard.media.ice import RemoteAddresses
from tests.harness.ice import host_blocks, no_servers

pytestmark = pytest.mark.slow


async def no_ice() -> list[RTCIceServer]:
    return []


def named_only(sdp: str, lines: list[str]) -> str:
    """``sdp`` naming only the candidates ``lines``."""
    out = [line for line in sdp.splitlines() if not line.startswith("a=candidate:")]
    at = next(i for i, line in enumerate(out) if line.startswith("a=ice-ufrag:"))
    return "\r\n".join(out[:at] + lines + out[at:]) + "\r\n"


def candidate(address: str, port: int = 9) -> str:
    return f"candidate:9 1 udp 2130706431 {address} {port} typ host"


async def answered(remote: RemoteAddresses, named: list[str]) -> tuple[Publisher, Any]:
    """A publisher that answered a real offer naming ``named``; and its viewer's ICE."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    publisher = Publisher(SyntheticScene(320, 240), send, no_ice, remote=remote)
    await publisher.viewer_joined({"type": "viewer", "from": "a", "principal": {}})
    viewer = RTCPeerConnection(no_servers())
    try:
        viewer.addTransceiver("video", direction="recvonly")
        await viewer.setLocalDescription(await viewer.createOffer())
        sdp = named_only(viewer.localDescription.sdp, [f"a={line}" for line in named])
    finally:
        await viewer.close()
    publisher.offer({"type": "offer", "from": "a", "sdp": sdp})
    await asyncio.wait([t for t in publisher._tasks if t.get_name() == "answer:a"])
    assert [m["type"] for m in sent] == ["answer"]
    pc = publisher.viewers["a"].pc
    assert pc is not None
    return publisher, pc.getTransceivers()[0].receiver.transport.transport


async def test_agent_refuses_reserved_candidates_from_viewers() -> None:
    named = [candidate(a) for a in ("169.254.169.254", "fe80::1", "127.0.0.1", "x.local")]
    publisher, ice = await answered(RemoteAddresses(), named)
    try:
        assert ice.getRemoteCandidates() == []
        trickled = {"type": "candidate", "from": "a", "sdp_mid": "0"}
        await publisher.candidate(trickled | {"candidate": candidate("10.0.0.7")})
        assert ice.getRemoteCandidates() == []
    finally:
        await publisher.close_all()
        publisher.source.stop()


async def test_agent_keeps_candidates_in_allowed_blocks() -> None:
    host = host_blocks()[0].split("/")[0]
    remote = RemoteAddresses(allowed=networks(host_blocks()))
    publisher, ice = await answered(remote, [candidate(host), candidate("169.254.1.1")])
    try:
        assert [c.ip for c in ice.getRemoteCandidates()] == [host]
        trickled = {"type": "candidate", "from": "a", "sdp_mid": "0"}
        await publisher.candidate(trickled | {"candidate": candidate(host, 11)})
        assert [c.port for c in ice.getRemoteCandidates()] == [9, 11]
    finally:
        await publisher.close_all()
        publisher.source.stop()


def test_agent_allow_list_never_takes_loopback(tmp_path: Path) -> None:
    assert remote_addresses(("192.168.1.0/24",)).refusal("192.168.1.9") is None
    with pytest.raises(ConfigError, match="loopback"):
        remote_addresses(("0.0.0.0/0",))
    with pytest.raises(ConfigError, match="not a CIDR block"):
        remote_addresses(("192.168.1.1/24",))
    assert AgentConfig("https://x", tmp_path / "k").allow_remote == ()
