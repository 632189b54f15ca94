"""Media through a real coturn, with credentials from a real lensguard server.

Both aiortc peers are relay-only, so the only way media can flow is through TURN;
coturn's log shows the allocations made with the server-issued username.
"""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from av import VideoFrame

from lensguard.deploy.coturn import TurnConfig, render
from lensguard.media.turn import (
    IceConnectTimeout,
    TurnAuthFailed,
    mint_credential,
    wait_connected,
)
from tests.harness import coturn as coturn_harness
from tests.harness.coturn import Coturn, relay_port_range, start_coturn
from tests.harness.ports import free_port
from tests.harness.server import start_server, strong_secret
from tests.media.peers import ice_config, local_candidate_types, offer_answer, round_trip
from tests.signaling.conftest import World, auth, bootstrap_admin

pytestmark = pytest.mark.slow
CONNECT_TIMEOUT = 10.0
REFUSED_TIMEOUT = 4.0


@pytest.fixture(scope="module")
def turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    server = start_coturn(tmp_path_factory.mktemp("coturn"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, turn: Coturn) -> Iterator[World]:
    config = {
        "turn": {"enabled": True, "urls": [turn.url], "ttl": 300, "realm": turn.realm},
        "limits": {"requests_per_minute": 100_000},
    }
    # The secret arrives the way production passes it: the environment, not the file.
    env = {"LENSGUARD_TURN__STATIC_AUTH_SECRET": turn.secret}
    server = start_server(tmp_path_factory.mktemp("turn-server"), config, env=env)
    try:
        yield World(server, bootstrap_admin(server))
    finally:
        server.stop()


def issued(world: World, token: str) -> list[dict[str, Any]]:
    with world.http() as client:
        response = client.get("/api/v1/turn-credentials", headers=auth(token))
    response.raise_for_status()
    servers: list[dict[str, Any]] = response.json()["ice_servers"]
    return servers


def with_credential(turn: Coturn, secret: str, expires_in: int) -> list[dict[str, Any]]:
    credential = mint_credential(secret, "intruder", ttl=60, now=time.time() - 60 + expires_in)
    return [
        {"urls": [turn.url], "username": credential.username, "credential": credential.password}
    ]


async def test_media_and_data_flow_through_turn_with_issued_credentials(
    world: World, turn: Coturn
) -> None:
    servers = issued(world, world.user("relay-op", "operator"))
    username = servers[0]["username"]
    pair = await offer_answer(ice_config(servers, relay_only=True))
    try:
        await wait_connected(pair.caller, CONNECT_TIMEOUT)
        await wait_connected(pair.callee, CONNECT_TIMEOUT)
        assert local_candidate_types(pair.caller) == local_candidate_types(pair.callee) == {"relay"}
        assert await round_trip(pair.channel, "ping") == "echo:ping"
        track = await asyncio.wait_for(pair.received.get(), 5)
        frames = [await asyncio.wait_for(track.recv(), 5) for _ in range(10)]
        assert all(isinstance(f, VideoFrame) for f in frames)
        assert {(f.width, f.height) for f in frames if isinstance(f, VideoFrame)} == {(320, 240)}
    finally:
        await pair.close()
    log = turn.log()
    assert f"user <{username}>: incoming packet ALLOCATE processed, success" in log
    assert f"user <{username}>: incoming packet CHANNEL_BIND processed, success" in log


async def test_device_credentials_work_for_publishing(world: World) -> None:
    _, credential = world.device("turn-cam", "lab")
    servers = issued(world, credential)
    pair = await offer_answer(ice_config(servers, relay_only=True))
    try:
        await wait_connected(pair.caller, CONNECT_TIMEOUT)
        assert await round_trip(pair.channel, "hello") == "echo:hello"
    finally:
        await pair.close()


@pytest.mark.parametrize("forgery", ["expired", "wrong_secret"])
async def test_expired_or_forged_credentials_never_connect(turn: Coturn, forgery: str) -> None:
    if forgery == "expired":
        servers = with_credential(turn, turn.secret, expires_in=-30)
    else:
        servers = with_credential(turn, strong_secret(), expires_in=600)
    pair = await offer_answer(ice_config(servers, relay_only=True))
    try:
        with pytest.raises(TurnAuthFailed, match="TURN server most likely refused the credential"):
            await wait_connected(pair.caller, REFUSED_TIMEOUT)
        assert pair.callee.connectionState != "connected"
        assert local_candidate_types(pair.caller) == set()
    finally:
        await pair.close()
    assert f"user <{servers[0]['username']}>: incoming packet ALLOCATE processed, success" not in (
        turn.log()
    )


async def test_hardened_config_refuses_to_relay_to_loopback(tmp_path: Path) -> None:
    secret, port = strong_secret(), free_port()
    low, high = relay_port_range()
    conf = tmp_path / "turnserver.conf"
    conf.write_text(
        render(
            TurnConfig(
                listening_ips=["127.0.0.1"],
                relay_ips=["127.0.0.1"],
                listening_port=port,
                min_port=low,
                max_port=high,
            ),
            secret=secret,
            realm="hardened.test",
        )
    )
    process, log_path = coturn_harness.spawn(
        tmp_path / "coturn", ["-c", str(conf), "--verbose"], port
    )
    hardened = Coturn(process, port, secret, "hardened.test", log_path)
    try:
        servers = with_credential(hardened, secret, expires_in=600)
        pair = await offer_answer(ice_config(servers, relay_only=True))
        try:
            # Allocation succeeds, but relaying to a loopback peer is forbidden.
            with pytest.raises(TurnAuthFailed, match="over TURN only"):
                await wait_connected(pair.caller, REFUSED_TIMEOUT)
        finally:
            await pair.close()
    finally:
        hardened.stop()
    log = hardened.log()
    assert "ALLOCATE processed, success" in log
    assert "error 403: Forbidden IP" in log, log


async def test_a_direct_timeout_is_not_blamed_on_turn() -> None:
    lonely = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    lonely.addTransceiver("video", direction="recvonly")
    await lonely.setLocalDescription(await lonely.createOffer())  # no answer ever comes
    try:
        with pytest.raises(IceConnectTimeout, match=r"did not connect within 0\.5 s") as raised:
            await wait_connected(lonely, 0.5)
        assert not isinstance(raised.value, TurnAuthFailed)
    finally:
        await lonely.close()
