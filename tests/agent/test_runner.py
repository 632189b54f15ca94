"""The session loop without a server: it retries, and stops when its source ends."""

import asyncio
from pathlib import Path

from lensguard.agent.driver import SimulatedRobot
from lensguard.agent.runner import Agent, AgentConfig
from lensguard.agent.sources import SyntheticScene
from tests.agent.support import eventually
from tests.harness.ports import free_port


async def test_an_unreachable_server_is_retried_until_the_source_ends(tmp_path: Path) -> None:
    key = tmp_path / "device.key"
    key.touch(mode=0o600)
    key.write_text("lg_abcdefghijkl_secretsecret")
    scene, robot = SyntheticScene(320, 240), SimulatedRobot()
    config = AgentConfig(
        server=f"https://127.0.0.1:{free_port()}", credential_file=key, backoff_cap=0.2
    )
    agent = Agent(config, scene, robot)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: agent._backoff.attempt >= 2, within=10)  # retried, 0.2 s apart
    assert not task.done()
    scene.stop()  # a camera unplugged
    await asyncio.wait_for(task, 10)
    assert agent.failure == "the video source ended"
    assert agent.published == 0
    assert list(agent.deadman.stops) == ["shutdown"]
