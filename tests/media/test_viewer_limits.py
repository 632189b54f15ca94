"""A node or stream at its viewer limit refuses the next viewer cleanly (``capacity``).

Those already watching keep their picture; the refused one is told when to retry, a
HIGH security event is raised (alerts), the refusal is counted in the metrics, and a
place freed by a viewer who leaves can be taken at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.device import FakeDevice
from tests.harness.ice import host_blocks
from tests.harness.server import start_server
from tests.harness.world import World, auth, bootstrap_admin, open_peer
from tests.media.test_relay import RelayViewer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(
        tmp_path_factory.mktemp("limits"),
        {
            "limits": {"requests_per_minute": 100_000},
            "media": {
                "ice": {"allow_remote_addresses": host_blocks()},
                "max_viewers_per_stream": 2,
                "max_viewers_per_node": 3,
                "capacity_retry_seconds": 15,
            },
        },
    )
    try:
        yield World(server, bootstrap_admin(server))
    finally:
        server.stop()


async def viewer(world: World) -> RelayViewer:
    return RelayViewer(await open_peer(world, world.user(f"v-{uuid.uuid4().hex[:6]}", "viewer")))


async def refused(one: RelayViewer, device_id: str) -> dict[str, Any]:
    await one.peer.send({"type": "subscribe", "device_id": device_id, "mode": "relay"})
    answer = await one.peer.recv(wait=20)
    while answer["type"] not in ("error", "subscribed"):
        answer = await one.peer.recv(wait=20)
    assert answer["type"] == "error", answer
    return answer


async def test_the_stream_and_the_node_refuse_past_their_limits(
    world: World, cleanup: list[Any]
) -> None:
    first_id, first_credential = world.device(f"lim-{uuid.uuid4().hex[:8]}", "site-a")
    second_id, second_credential = world.device(f"lim-{uuid.uuid4().hex[:8]}", "site-a")
    for credential in (first_credential, second_credential):
        cleanup.append(await FakeDevice.start(world, credential))
    a, b, c, d, e = [await viewer(world) for _ in range(5)]
    cleanup += [a, b, c, d, e]
    await a.watch(first_id)
    await b.watch(first_id)
    await a.frames_at_least(10)
    await b.frames_at_least(10)

    stream_full = await refused(c, first_id)
    assert stream_full["code"] == "capacity" and stream_full["retry_after"] == 15
    assert "this stream has its maximum of 2 viewers" in stream_full["message"]
    # Those already watching are not touched.
    seen = a.frames, b.frames
    await a.frames_at_least(seen[0] + 15)
    await b.frames_at_least(seen[1] + 15)

    await d.watch(second_id)  # the node's third viewer
    await d.frames_at_least(10)
    node_full = await refused(e, second_id)
    assert node_full["code"] == "capacity"
    assert "this node serves its maximum of 3 viewers" in node_full["message"]

    # A viewer leaving frees its place: the one refused before gets in.
    await a.close()
    cleanup.remove(a)
    for _ in range(100):
        await c.peer.send({"type": "subscribe", "device_id": first_id, "mode": "relay"})
        answer = await c.peer.recv(wait=20)
        while answer["type"] not in ("error", "subscribed"):
            answer = await c.peer.recv(wait=20)
        if answer["type"] == "subscribed":
            await c.offer_to(answer["peer"])
            break
        assert answer["code"] == "capacity"  # the leaving viewer is still being removed
        await asyncio.sleep(0.1)  # bounded: the server tearing down a closed socket (I/O)
    else:
        raise AssertionError("the freed place was never given to the waiting viewer")
    await c.frames_at_least(10)

    with world.http() as client:
        metrics = client.get("/metrics", headers=auth(world.admin)).text
    refused_lines = [
        line
        for line in metrics.splitlines()
        if line.startswith("lensguard_signaling_refused_messages_total")
        and 'reason="capacity"' in line
    ]
    assert refused_lines and float(refused_lines[0].split()[-1]) >= 2
