"""ICE on this test machine: the addresses peers meet on, and a configuration with no servers."""

from __future__ import annotations

import ipaddress

from aioice.ice import get_host_addresses
from aiortc import RTCConfiguration, RTCPeerConnection


def host_blocks() -> list[str]:
    """This machine's interface addresses, each as a one-address CIDR block.

    aioice never offers loopback, so peers on one machine meet on its interface
    addresses, which in a container are usually private or documentation ranges that
    the relay refuses by default. Test servers allow exactly these.
    """
    found = get_host_addresses(use_ipv4=True, use_ipv6=True)
    return sorted({str(ipaddress.ip_network(address)) for address in found})


def no_servers() -> RTCConfiguration:
    """An explicit empty server list: aiortc would otherwise ask a public STUN server."""
    return RTCConfiguration(iceServers=[])


async def sample_offer() -> str:
    """A real aiortc offer (video, fully gathered), for tests that only route SDP."""
    pc = RTCPeerConnection(no_servers())
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()
