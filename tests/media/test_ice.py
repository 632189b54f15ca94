"""The relay's ICE: configured servers only, no checks to reserved addresses (real aiortc peers)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aioice import stun
from aiortc import RTCPeerConnection, RTCSessionDescription

from lensguard.bus.memory import MemoryBus
from lensguard.errors import ConfigurationError
from lensguard.media.addresses import networks
from lensguard.media.ice import IcePolicy, RemoteAddresses
from lensguard.media.relay import DeviceRelay, ViewerEndpoint
from lensguard.settings import Settings
from tests.harness.ice import host_blocks, no_servers

pytestmark = pytest.mark.slow
VIEWER = "viewer-conn"


async def no_control(_: str) -> None:
    return None


class UdpSink(asyncio.DatagramProtocol):
    """A UDP socket on loopback that records what arrives and, as a STUN server, answers."""

    def __init__(self, *, answer: bool = False) -> None:
        self.answer = answer
        self.packets: list[tuple[bytes, tuple[str, int]]] = []
        self.arrived = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.append((data, addr))
        self.arrived.set()
        if self.answer and self.transport is not None:
            request = stun.parse_message(data)
            response = stun.Message(
                message_method=stun.Method.BINDING,
                message_class=stun.Class.RESPONSE,
                transaction_id=request.transaction_id,
            )
            response.attributes["XOR-MAPPED-ADDRESS"] = addr
            self.transport.sendto(bytes(response), addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def stun_requests(self) -> int:
        return sum(1 for data, _ in self.packets if _is_stun_request(data))


def _is_stun_request(data: bytes) -> bool:
    try:
        return stun.parse_message(data).message_class == stun.Class.REQUEST
    except ValueError:
        return False


async def udp_sink(*, answer: bool = False) -> UdpSink:
    loop = asyncio.get_running_loop()
    _, sink = await loop.create_datagram_endpoint(
        lambda: UdpSink(answer=answer), local_addr=("127.0.0.1", 0)
    )
    return sink


@dataclass
class Call:
    """A relay endpoint and a real aiortc viewer offering to it over a memory bus."""

    policy: IcePolicy
    bus: MemoryBus = field(default_factory=MemoryBus)
    viewer: RTCPeerConnection = field(default_factory=lambda: RTCPeerConnection(no_servers()))
    endpoint: ViewerEndpoint | None = None

    async def offer(self, candidates: Sequence[str] = (), *, sdp: str | None = None) -> Any:
        """Send the viewer's offer (naming ``candidates`` if given); the relay's reply or None."""
        relay = DeviceRelay(self.bus, "dev-1", lambda _: None, ice=self.policy)
        self.endpoint = ViewerEndpoint(relay, VIEWER, no_control)
        inbox = await self.bus.subscribe(f"conn:{VIEWER}")
        await self.endpoint.start()
        await anext(aiter(inbox))  # "joined"
        if sdp is None:
            self.viewer.addTransceiver("video", direction="recvonly")
            await self.viewer.setLocalDescription(await self.viewer.createOffer())
            sdp = self.viewer.localDescription.sdp
            if candidates:
                sdp = with_candidates(sdp, candidates)
        await self.bus.publish(
            f"conn:{self.endpoint.inbox.id}", {"type": "offer", "from": VIEWER, "sdp": sdp}
        )
        try:
            return await asyncio.wait_for(anext(aiter(inbox)), 10)
        except TimeoutError:
            return None
        finally:
            await inbox.close()

    async def connected(self, answer: dict[str, Any]) -> None:
        """Apply the relay's answer and wait until the viewer's connection is up."""
        up = asyncio.Event()
        self.viewer.on(
            "connectionstatechange",
            lambda: up.set() if self.viewer.connectionState == "connected" else None,
        )
        await self.viewer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.wait_for(up.wait(), 20)

    def relay_ice(self) -> Any:
        """The relay peer's (bundled) ICE transport."""
        assert self.endpoint is not None and self.endpoint.pc is not None
        return self.endpoint.pc.getTransceivers()[0].sender.transport.transport

    async def close(self) -> None:
        if self.endpoint is not None:
            await self.endpoint.close()
        await self.viewer.close()


def with_candidates(sdp: str, lines: Sequence[str]) -> str:
    """``sdp`` naming only the candidates ``lines`` (in place of the viewer's own)."""
    out: list[str] = []
    for line in sdp.splitlines():
        if not line.startswith("a=candidate:"):
            out.append(line)
        elif lines:
            out += lines
            lines = ()
    assert not lines, "the offer has no candidate to replace"
    return "\r\n".join(out) + "\r\n"


def candidate(address: str, port: int = 9) -> str:
    return f"a=candidate:9 1 udp 2130706431 {address} {port} typ host"


def on_this_host(**overrides: Any) -> IcePolicy:
    """Production defaults, with this machine's own addresses allowed (test peers meet there)."""
    remote = RemoteAddresses(allowed=networks(host_blocks()), **overrides)
    return IcePolicy(remote=remote)


@pytest.fixture
async def calls() -> AsyncIterator[list[Call]]:
    made: list[Call] = []
    yield made
    for call in made:
        await call.close()


async def test_relay_peer_uses_only_configured_ice_servers(calls: list[Call]) -> None:
    call = Call(on_this_host())
    calls.append(call)
    answer = await call.offer()
    assert answer is not None and answer["type"] == "answer"
    gatherer = call.relay_ice().iceGatherer
    # aiortc's default would be ("stun.l.google.com", 19302).
    assert gatherer._connection.stun_server is None
    assert gatherer._connection.turn_server is None
    assert {c.type for c in gatherer.getLocalCandidates()} == {"host"}


async def test_relay_peer_asks_the_configured_stun_server(calls: list[Call]) -> None:
    server = await udp_sink(answer=True)
    try:
        policy = on_this_host()
        call = Call(IcePolicy(servers=(f"stun:127.0.0.1:{server.port}",), remote=policy.remote))
        calls.append(call)
        assert await call.offer() is not None
        assert call.relay_ice().iceGatherer._connection.stun_server == ("127.0.0.1", server.port)
        assert server.stun_requests() >= 1
    finally:
        assert server.transport is not None
        server.transport.close()


async def test_relay_refuses_link_local_remote_candidates(calls: list[Call]) -> None:
    # The offer names only refused addresses, one of them a loopback socket we watch:
    # aiortc alone would start checking them at once.
    sink = await udp_sink()
    try:
        call = Call(on_this_host())
        calls.append(call)
        refused = ["169.254.169.254", "fe80::1", "10.1.2.3", "0.0.0.1", "224.0.0.251"]
        named = [candidate(address) for address in refused]
        named += [candidate("127.0.0.1", sink.port), candidate("4f1e7a2c-1d2e.local")]
        answer = await call.offer(named)
        assert answer is not None
        assert call.relay_ice().getRemoteCandidates() == []
        await call.connected(answer)
        # Connected from where the viewer's own checks came (peer-reflexive), and not
        # one packet went to the loopback address the offer named.
        remote = call.relay_ice().getRemoteCandidates()
        assert {c.type for c in remote} == {"prflx"}
        assert not {c.ip for c in remote} & {*refused, "127.0.0.1"}
        assert sink.packets == []
    finally:
        assert sink.transport is not None
        sink.transport.close()


async def test_loopback_candidates_are_checked_in_dev_mode(calls: list[Call]) -> None:
    # The counterpart of the test above: the sink does see checks when loopback is allowed.
    sink = await udp_sink()
    try:
        call = Call(on_this_host(loopback=True))
        calls.append(call)
        answer = await call.offer([candidate("127.0.0.1", sink.port)])
        assert answer is not None
        await asyncio.wait_for(sink.arrived.wait(), 10)
        assert sink.stun_requests() >= 1
        assert [c.ip for c in call.relay_ice().getRemoteCandidates()] == ["127.0.0.1"]
    finally:
        assert sink.transport is not None
        sink.transport.close()


async def test_allowed_candidates_are_kept(calls: list[Call]) -> None:
    call = Call(on_this_host())
    calls.append(call)
    answer = await call.offer()
    assert answer is not None
    kept = call.relay_ice().getRemoteCandidates()
    assert kept and all(c.type == "host" for c in kept)
    hosts = networks(host_blocks())
    assert all(any(ipaddress.ip_address(c.ip) in block for block in hosts) for c in kept)
    await call.connected(answer)


async def test_relay_refuses_an_offer_without_dtls_fingerprint_and_says_so(
    calls: list[Call],
) -> None:
    call = Call(on_this_host())
    calls.append(call)
    call.viewer.addTransceiver("video", direction="recvonly")
    await call.viewer.setLocalDescription(await call.viewer.createOffer())
    sdp = "".join(
        line
        for line in call.viewer.localDescription.sdp.splitlines(keepends=True)
        if not line.startswith("a=fingerprint:")
    )
    refused = await call.offer(sdp=sdp)
    assert refused is not None and refused["type"] == "error"
    assert refused["code"] == "invalid_sdp" and "no DTLS fingerprint" in refused["message"]
    assert call.endpoint is not None and call.endpoint.pc is None


def test_remote_address_refusals() -> None:
    remote = RemoteAddresses(allowed=networks(["192.168.7.0/24"]))
    cases = {
        "169.254.169.254": "reserved",
        "fe80::1": "reserved",
        "10.0.0.1": "reserved",
        "::ffff:10.0.0.1": "reserved",
        "192.168.8.1": "reserved",
        "ff02::1": "reserved",
        "127.0.0.1": "loopback",
        "::1": "loopback",
        "4f1e7a2c-1d2e.local": "mdns",
        "metadata.internal": "hostname",
        "192.168.7.20": None,
        "8.8.8.8": None,
        "2a00:1450:4001::1": None,
    }
    assert {host: remote.refusal(host) for host in cases} == cases
    assert RemoteAddresses(loopback=True).refusal("127.0.0.1") is None
    assert remote.candidate_refusal("candidate:1 1 udp 1 8.8.8.8") == "malformed"


def test_end_of_candidates_goes_only_when_a_candidate_was_dropped() -> None:
    sdp = f"v=0\r\n{candidate('8.8.8.8')}\r\na=end-of-candidates\r\n"
    kept, dropped = RemoteAddresses().filter_sdp(sdp)
    assert kept == sdp and not dropped
    mixed = (
        f"v=0\r\n{candidate('8.8.8.8')}\r\n{candidate('169.254.1.1')}\r\na=end-of-candidates\r\n"
    )
    kept, dropped = RemoteAddresses().filter_sdp(mixed)
    assert kept == f"v=0\r\n{candidate('8.8.8.8')}\r\n" and dropped == {"reserved": 1}


def test_ice_policy_from_settings(make_settings: Any) -> None:
    default = IcePolicy.from_settings(make_settings())
    assert default.servers == () and default.configuration().iceServers == []
    assert default.remote == RemoteAddresses()
    lan = make_settings(
        media={"ice": {"servers": ["stun:stun.lan:3478"], "allow_remote_addresses": ["10.0.0.0/8"]}}
    )
    policy = IcePolicy.from_settings(lan)
    assert policy.servers == ("stun:stun.lan:3478",)
    assert policy.remote.refusal("10.2.3.4") is None and policy.remote.loopback is False
    dev = IcePolicy.from_settings(make_settings(mode="dev"))
    assert dev.remote.loopback is True


def test_loopback_may_be_allowed_in_dev_mode_only(make_settings: Any) -> None:
    media = {"ice": {"allow_remote_addresses": ["0.0.0.0/0"]}}
    with pytest.raises(ConfigurationError, match="loopback"):
        IcePolicy.from_settings(make_settings(media=media))
    assert IcePolicy.from_settings(make_settings(mode="dev", media=media)).remote.loopback


@pytest.mark.parametrize(
    ("ice", "message"),
    [
        ({"servers": ["turn:turn.example:3478"]}, "is not a stun: URL"),
        ({"allow_remote_addresses": ["10.0.0.1/8"]}, "not a CIDR block"),
        ({"allow_remote_addresses": ["lan"]}, "not a CIDR block"),
        ({"stun": []}, "Extra inputs are not permitted"),
    ],
)
def test_bad_ice_settings_are_refused(ice: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(media={"ice": ice})
