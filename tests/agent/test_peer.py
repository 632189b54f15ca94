"""The publisher's bookkeeping: who may offer, how many viewers, leaving."""

import asyncio
from typing import Any

from aiortc import RTCIceServer

from lensguard.agent.peer import Publisher
from lensguard.agent.sources import SyntheticScene


class Outbox:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def no_ice() -> list[RTCIceServer]:
    return []


def viewer(connection: str) -> dict[str, Any]:
    return {
        "type": "viewer",
        "from": connection,
        "mode": "direct",
        "principal": {"kind": "user", "id": f"id-{connection}", "name": connection},
    }


async def test_viewers_beyond_the_limit_are_sent_away() -> None:
    scene, outbox = SyntheticScene(320, 240), Outbox()
    publisher = Publisher(scene, outbox, no_ice, max_peers=2)
    for connection in ("a", "b", "c"):
        await publisher.viewer_joined(viewer(connection))
    assert sorted(publisher.viewers) == ["a", "b"]
    assert outbox.sent == [{"type": "leave", "to": "c"}]
    await publisher.leave("a")
    await publisher.viewer_joined(viewer("c"))
    assert sorted(publisher.viewers) == ["b", "c"]
    await publisher.close_all()
    assert publisher.viewers == {}
    scene.stop()


async def test_offers_from_unannounced_connections_are_ignored() -> None:
    scene, outbox = SyntheticScene(320, 240), Outbox()
    publisher = Publisher(scene, outbox, no_ice)
    publisher.offer({"type": "offer", "from": "stranger", "sdp": "v=0"})
    await publisher.candidate({"type": "candidate", "from": "stranger", "candidate": "x"})
    await publisher.viewer_joined({"type": "viewer", "from": 42})
    assert publisher.viewers == {} and outbox.sent == []
    await publisher.close_all()
    scene.stop()


async def test_a_broken_offer_fails_alone_and_releases_its_track() -> None:
    scene, outbox = SyntheticScene(320, 240), Outbox()
    publisher = Publisher(scene, outbox, no_ice)
    await publisher.viewer_joined(viewer("a"))
    publisher.offer({"type": "offer", "from": "a", "sdp": "not an sdp"})
    answering = [t for t in publisher._tasks if t.get_name() == "answer:a"]
    await asyncio.wait(answering)
    assert publisher.viewers["a"].pc is None and publisher.viewers["a"].track is None
    assert outbox.sent == []
    await publisher.close_all()
    scene.stop()
