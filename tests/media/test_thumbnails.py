"""Device thumbnails over a real server: the processed picture, cached, scoped, never raw."""

import uuid
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from tests.harness.device import FakeDevice
from tests.harness.world import World, auth

pytestmark = pytest.mark.slow


def picture(answer: httpx.Response) -> np.ndarray[Any, Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["cache-control"].startswith("private")
    decoded = cv2.imdecode(np.frombuffer(answer.content, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    return decoded


def colourful(image: np.ndarray[Any, Any]) -> bool:
    """The test device's bars are green on black: far from grey."""
    b, g, r = (image[:, :, i].astype(int) for i in range(3))
    return bool(np.mean(np.abs(g - r)) > 20 and np.mean(np.abs(g - b)) > 20)


async def test_a_thumbnail_is_the_processed_picture_cached_and_scoped(
    world: World, cleanup: list[Any]
) -> None:
    site = f"thumb-{uuid.uuid4().hex[:6]}"
    device_id, credential = world.device(f"cam-{site}", site)
    viewer = world.user(f"vw-{site}", "viewer", [site])
    stranger = world.user(f"st-{site}", "viewer", ["elsewhere"])
    path = f"/api/v1/devices/{device_id}/thumbnail"
    # An async client: the test device answers the relay on this same event loop.
    async with httpx.AsyncClient(base_url=world.server.base_url, verify=world.ssl()) as client:
        offline = await client.get(path, headers=auth(viewer))
        assert offline.status_code == 409, offline.text
        assert offline.headers["content-type"].startswith("application/problem+json")

        device = await FakeDevice.start(world, credential)
        cleanup.append(device)
        first = await client.get(path, headers=auth(viewer))
        image = picture(first)
        assert image.shape == (240, 320, 3)  # 320 wide, the device's 4:3 kept
        assert colourful(image)
        # Within the cache period the same snapshot is served again.
        again = await client.get(path, headers=auth(viewer))
        assert again.content == first.content
        assert again.headers["x-taken-at"] == first.headers["x-taken-at"]

        # Outside the viewer's scope the device does not exist; without a token, 401.
        assert (await client.get(path, headers=auth(stranger))).status_code == 404
        assert (await client.get(path)).status_code == 401

        # A policy change drops the cached snapshot: the next one is processed anew.
        changed = await client.put(
            f"/api/v1/streams/{device_id}",
            headers=auth(world.admin),
            json={"ai_models": ["grayscale"]},
        )
        assert changed.status_code == 200, changed.text
        grey = picture(await client.get(path, headers=auth(viewer)))
        assert not colourful(grey)
        b, g, r = (grey[:, :, i].astype(int) for i in range(3))
        assert np.mean(np.abs(g - r)) < 8 and np.mean(np.abs(g - b)) < 8
        # Looking is audited, once per person and device in the period, not per refresh.
        audited = await client.get(
            "/api/v1/audit",
            headers=auth(world.admin),
            params={"action": "stream.thumbnail", "resource_id": device_id},
        )
        rows = audited.json()["items"]
        assert [r["actor_name"] for r in rows] == [f"vw-{site}"]
