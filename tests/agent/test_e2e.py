"""The agent against a real server: video to a viewer, control, dead-man, reconnect."""

import asyncio
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lensguard.agent.credentials import CredentialRejected
from tests.agent.support import (
    Restartable,
    StreamViewer,
    eventually,
    running_agent,
    send_control,
)
from tests.signaling.conftest import Peer, auth, open_peer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restartable]:
    running = Restartable.start(tmp_path_factory.mktemp("agent-e2e"))
    try:
        yield running
    finally:
        running.world.server.stop()


async def test_viewer_sees_stamped_video_and_operator_drives(
    server: Restartable, tmp_path: Path, peers: list[Peer]
) -> None:
    world = server.world
    async with running_agent(world, tmp_path, deadman=0.5) as running:
        operator = await open_peer(world, world.user("driver-ada", "operator"))
        peers.append(operator)
        viewer = StreamViewer(operator)
        try:
            await viewer.watch(running.device_id)
            await eventually(lambda: viewer.frames > 10 and len(viewer.stamps) > 10, 60)
        finally:
            await viewer.close()
        # Every stamp is a capture time from just before its frame arrived.
        assert all(0 < received - sent < 10_000_000 for sent, received in viewer.stamps)
        assert [s for s, _ in viewer.stamps] == sorted(s for s, _ in viewer.stamps)

        watcher = await open_peer(world, world.user("watcher-bob", "viewer"))
        peers.append(watcher)
        await watcher.send({"type": "subscribe", "device_id": running.device_id, "mode": "direct"})
        await watcher.recv("subscribed")
        await send_control(watcher, running.device_id, "move", 1, linear=0.77)
        assert (await watcher.recv("error"))["code"] == "forbidden"

        await send_control(operator, running.device_id, "move", 1, linear=0.5, angular=0.25)
        await eventually(lambda: any(c.name == "move" for c in running.robot.commands))
        applied = running.agent.control.history[-1]
        assert (applied.command, applied.sender.name, applied.sender.kind) == (
            "move",
            "driver-ada",
            "user",
        )
        assert [c.linear for c in running.robot.commands if c.name == "move"] == [0.5]

        # The operator falls silent: the dead-man timer stops the robot.
        await eventually(lambda: "silence" in running.agent.deadman.stops, 10)
        assert running.robot.commands[-1].name == "stop" and not running.robot.moving


async def test_link_loss_stops_the_robot_and_the_agent_comes_back(tmp_path: Path) -> None:
    server = Restartable.start(tmp_path / "server")
    try:
        world = server.world
        # A long dead-man timeout: only the link loss may stop the robot here.
        async with running_agent(world, tmp_path, deadman=60.0) as running:
            operator = await open_peer(world, world.user("driver-eve", "operator"))
            await operator.send(
                {"type": "subscribe", "device_id": running.device_id, "mode": "direct"}
            )
            await operator.recv("subscribed")
            await send_control(operator, running.device_id, "move", 1, linear=0.4)
            await eventually(lambda: running.robot.moving)

            # Off the event loop: the agent must keep running while the server goes down.
            await asyncio.to_thread(server.world.server.stop)
            await eventually(lambda: "link_lost" in running.agent.deadman.stops, 30)
            assert list(running.agent.deadman.stops) == ["link_lost"]
            assert not running.robot.moving and running.robot.commands[-1].name == "stop"
            await operator.ws.close()

            await asyncio.to_thread(server.restart)
            await eventually(lambda: running.agent.published >= 2, 60)
            world = server.world
            again = await open_peer(world, world.user("driver-fay", "operator"))
            await again.send(
                {"type": "subscribe", "device_id": running.device_id, "mode": "direct"}
            )
            assert (await again.recv("subscribed"))["peer"] == running.agent.connection_id
            await again.ws.close()
    finally:
        await asyncio.to_thread(server.world.server.stop)


async def test_a_rotated_credential_stops_the_agent(server: Restartable, tmp_path: Path) -> None:
    world = server.world
    with pytest.raises(CredentialRejected, match="HTTP 401"):
        async with running_agent(world, tmp_path, deadman=60.0) as running:
            with world.http() as client:
                rotated = client.post(
                    f"/api/v1/devices/{running.device_id}/credential", headers=auth(world.admin)
                )
                assert rotated.status_code == 200
            # The server closes the socket (4401); the old credential no longer buys a token.
            await asyncio.wait_for(asyncio.shield(running.task), 30)
    assert list(running.agent.deadman.stops) == ["link_lost", "shutdown"]


async def test_the_command_runs_and_stops_cleanly_on_sigterm(
    server: Restartable, tmp_path: Path, peers: list[Peer]
) -> None:
    world = server.world
    device_id, credential = world.device("cli-robot", "site-a")
    key = tmp_path / "device.key"
    key.touch(mode=0o600)
    key.write_text(credential)
    command = [
        sys.executable,
        "-m",
        "lensguard",
        "agent",
        "--server",
        world.server.base_url,
        "--credential-file",
        str(key),
        "--ca-file",
        str(world.server.cert_path),
        "--width",
        "320",
        "--height",
        "240",
    ]
    log_path = tmp_path / "agent.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(*command, stdout=log, stderr=log)
    try:
        viewer = await open_peer(world, world.user("cli-watcher", "viewer"))
        peers.append(viewer)

        async def subscribed() -> bool:
            await viewer.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
            return bool((await viewer.recv(wait=10))["type"] == "subscribed")

        for _ in range(150):
            if await subscribed():
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the agent never came online")
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    logs = log_path.read_text()
    assert process.returncode == 0, logs
    assert '"event": "agent.published"' in logs
    assert credential not in logs and credential.split("_", 2)[2] not in logs
