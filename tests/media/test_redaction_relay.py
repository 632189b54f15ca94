"""Redaction in the relay, end to end: faces pixelated for every viewer, switchable live."""

import asyncio
import uuid
from typing import Any

import av
import cv2
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


FACE = (slice(40, 200), slice(200, 360))  # where the astronaut's face is at 640x480
# Fine detail of the face kept: about 0.97 through the plain relay, about 0.05 pixelated,
# 0 blanked. The thresholds sit far from both, whatever the encoder's quality does.
FACE_SHOWN, FACE_HIDDEN = 0.8, 0.3


def _fine(picture: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)[FACE].astype(np.float64)
    return np.asarray(grey - cv2.GaussianBlur(grey, (0, 0), 2))


def face_detail(picture: np.ndarray | None) -> float:
    """How much of the photo's fine detail survives in the face: its correlation, 1 to 0.

    A mean colour difference is a poor measure here: a pixelated face differs from the
    photo by about as much as lossy coding can shift it, so a threshold sits on a knife
    edge. Pixelation and blanking remove the detail itself; coding keeps most of it.
    """
    assert picture is not None, "no picture decoded yet"
    seen, photo = _fine(picture), _fine(PHOTO)
    energy = float(np.sqrt((seen * seen).sum() * (photo * photo).sum()))
    return 0.0 if energy == 0.0 else float((seen * photo).sum()) / energy


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
    assert (
        viewer.last is not None and face_detail(viewer.last) > FACE_SHOWN
    )  # plain relay: the face

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
            if viewer.last is not None and check(face_detail(viewer.last)):
                return
        raise AssertionError(f"face detail stayed at {face_detail(viewer.last)}")

    configure(True)
    await settles(lambda detail: detail < FACE_HIDDEN)  # pixelated, without reconnecting
    found = await viewer.peer.recv("detections", wait=20)
    assert found["device_id"] == device_id
    assert found["items"] and found["items"][0]["label"] == "face"
    x, y, w, h = found["items"][0]["box"]
    assert 150 < x + w / 2 < 400 and 30 < y + h / 2 < 250  # the astronaut's face
    seen = viewer.frames
    await viewer.frames_at_least(seen + 20)
    assert face_detail(viewer.last) < FACE_HIDDEN
    configure(False)
    await settles(lambda detail: detail > FACE_SHOWN)
