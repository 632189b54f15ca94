"""Binary frames close with 1003; offers and answers that DTLS cannot authenticate are refused."""

import uuid

import pytest

from lensguard.wire.closes import Close
from tests.harness.ice import sample_offer
from tests.signaling.conftest import Peer, World, open_peer
from tests.signaling.test_signal import pair

pytestmark = pytest.mark.slow
BINARY = b'{"type": "auth", "token": "x"}'


def without_fingerprints(sdp: str) -> str:
    return "".join(
        line for line in sdp.splitlines(keepends=True) if not line.startswith("a=fingerprint:")
    )


async def test_binary_frame_closes_with_1003_before_auth(world: World) -> None:
    peer = await open_peer(world, None)
    await peer.ws.send(BINARY)
    assert await peer.closed_with() == Close.UNSUPPORTED_DATA.value == 1003
    assert "KeyError" not in world.server.output()


async def test_binary_frame_closes_after_auth(world: World, peers: list[Peer]) -> None:
    operator = world.user(f"op-bin-{uuid.uuid4().hex[:6]}", "operator")
    device_id, device, viewer = await pair(world, peers, operator)
    await viewer.ws.send(b"\x00\x01binary")
    assert await viewer.closed_with() == Close.UNSUPPORTED_DATA
    assert "KeyError" not in world.server.output()
    # Only the offender goes: the device's socket still works.
    await device.send({"type": "leave"})
    other = await open_peer(world, operator)
    peers.append(other)
    await other.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
    assert (await device.recv("viewer"))["from"] == other.id


async def test_offer_without_dtls_fingerprint_gets_signaling_error(
    world: World, peers: list[Peer]
) -> None:
    operator = world.user(f"op-sdp-{uuid.uuid4().hex[:6]}", "operator")
    _, device, viewer = await pair(world, peers, operator)
    offer = await sample_offer()
    await viewer.send({"type": "offer", "to": device.id, "sdp": without_fingerprints(offer)})
    error = await viewer.recv("error")
    assert error == {
        "type": "error",
        "code": "invalid_sdp",
        "message": "media section 0 has no DTLS fingerprint (a=fingerprint with sha-256, "
        "sha-384, sha-512)",
    }
    # The socket stays, and the refused offer never reached the device.
    await viewer.send({"type": "offer", "to": device.id, "sdp": offer})
    assert (await device.recv("offer"))["sdp"] == offer


async def test_answer_without_dtls_fingerprint_gets_signaling_error(
    world: World, peers: list[Peer]
) -> None:
    operator = world.user(f"op-ans-{uuid.uuid4().hex[:6]}", "operator")
    _, device, viewer = await pair(world, peers, operator)
    answer = without_fingerprints(await sample_offer())
    await device.send({"type": "answer", "to": viewer.id, "sdp": answer})
    assert (await device.recv("error"))["code"] == "invalid_sdp"
