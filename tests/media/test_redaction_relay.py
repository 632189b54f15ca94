"""Redaction in the relay, end to end: faces pixelated for every viewer, switchable live."""

import asyncio
import uuid
from typing import Any

import av
import numpy as np
import pytest
from aiortc import VideoStreamTrack

from tests.harness.device import FakeDevice
from tests.harness.images import astronaut
from tests.harness.world import World, auth, open_peer
from tests.media.test_relay import RelayViewer

pytestmark = pytest.mark.slow
PHOTO = astronaut((640, 480))


class PhotoTrack(VideoStreamTrack):
    """The astronaut photo (a face), 30 fps."""

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(PHOTO, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class CapturingViewer(RelayViewer):
    """Keeps the last decoded picture."""

    last: np.ndarray | None = None

    def _on_track(self, track: Any) -> None:
        async def pull() -> None:
            while True:
                frame = await track.recv()
                self.last = frame.to_ndarray(format="bgr24")
                self.frames += 1

        self._pull = asyncio.ensure_future(pull())


def face_change(picture: np.ndarray | None) -> float:
    assert picture is not None, "no picture decoded yet"
    face = (slice(40, 200), slice(200, 360))  # where the astronaut's face is at 640x480
    return float(np.abs(picture[face].astype(int) - PHOTO[face].astype(int)).mean())


async def test_faces_are_redacted_for_viewers_and_the_switch_is_live(
    world: World, cleanup: list[Any]
) -> None:
    device_id, credential = world.device(f"face-{uuid.uuid4().hex[:8]}", "site-a")
    device = await FakeDevice.start(world, credential)
    device.track = PhotoTrack()
    cleanup.append(device)
    viewer = CapturingViewer(
        await open_peer(world, world.user(f"fv-{uuid.uuid4().hex[:6]}", "viewer"))
    )
    cleanup.append(viewer)
    await viewer.watch(device_id)
    await viewer.frames_at_least(20)
    assert viewer.last is not None and face_change(viewer.last) < 12  # plain relay: the face

    def configure(redact: bool) -> None:
        with world.http() as client:
            response = client.put(
                f"/api/v1/streams/{device_id}",
                headers=auth(world.admin),
                json={"redact_faces": redact},
            )
            assert response.status_code == 200, response.text

    async def settles(check: Any) -> None:
        for _ in range(100):
            await asyncio.sleep(0.2)
            if viewer.last is not None and check(face_change(viewer.last)):
                return
        raise AssertionError(f"face change stayed at {face_change(viewer.last)}")

    configure(True)
    await settles(lambda change: change > 25)  # pixelated, without reconnecting
    found = await viewer.peer.recv("detections", wait=20)
    assert found["device_id"] == device_id
    assert found["items"] and found["items"][0]["label"] == "face"
    x, y, w, h = found["items"][0]["box"]
    assert 150 < x + w / 2 < 400 and 30 < y + h / 2 < 250  # the astronaut's face
    seen = viewer.frames
    await viewer.frames_at_least(seen + 20)
    assert face_change(viewer.last) > 25
    configure(False)
    await settles(lambda change: change < 12)
