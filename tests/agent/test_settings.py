"""Stream settings reach the publishing device: its source is scaled to the resolution."""

import asyncio
from pathlib import Path

import pytest
from av import VideoFrame

from lensguard.agent.rescale import Rescaled
from lensguard.agent.sources import SyntheticScene
from lensguard.sizing import fit_within, parse_resolution
from tests.agent.support import eventually, running_agent
from tests.harness.world import World, auth


def test_resolutions_parse_and_fit_without_upscaling() -> None:
    assert parse_resolution("1280x720") == (1280, 720)
    for bad in ("1280*720", "100x100", "4000x3000", "x720", "1280x720 "):
        with pytest.raises(ValueError):
            parse_resolution(bad)
    assert fit_within(1280, 720, (640, 480)) == (640, 360)  # aspect kept
    assert fit_within(640, 480, (1280, 720)) == (640, 480)  # never larger
    assert fit_within(1001, 777, (500, 500)) == (500, 388)  # even numbers


async def video(track: Rescaled) -> VideoFrame:
    """The next frame of ``track``, which must be a decoded video frame."""
    frame = await track.recv()
    assert isinstance(frame, VideoFrame)
    return frame


async def test_the_source_is_scaled_live_and_bad_values_are_ignored() -> None:
    scene = SyntheticScene(640, 480, fps=30)
    track = Rescaled(scene)
    try:
        assert (await video(track)).width == 640
        track.apply({"type": "settings", "resolution": "320x240"})
        frame = await video(track)
        assert (frame.width, frame.height) == (320, 240)
        track.apply({"type": "settings", "resolution": "1x1"})  # refused, kept
        track.apply({"type": "settings", "resolution": 7})
        assert track.bound == (320, 240)
        track.apply({"type": "settings", "resolution": "1280x720"})
        frame = await video(track)
        assert (frame.width, frame.height) == (640, 480)  # no upscaling
        track.apply({"type": "settings", "resolution": "320x240"})
        track.apply({"type": "settings", "bitrate": 500_000})  # resolution unset
        assert track.bound is None
    finally:
        track.stop()
    assert scene.readyState == "ended"


async def test_ending_the_source_ends_the_scaled_track() -> None:
    scene = SyntheticScene(320, 240, fps=30)
    track = Rescaled(scene)
    ended: list[bool] = []
    track.on("ended", lambda: ended.append(True))
    scene.stop()
    await asyncio.sleep(0)
    assert ended and track.readyState == "ended"


@pytest.mark.slow
async def test_the_device_gets_its_settings_when_changed_and_on_publish(
    world: World, tmp_path: Path
) -> None:
    async with running_agent(world, tmp_path) as running:
        assert running.agent.source.bound is None  # nothing configured yet
        with world.http() as client:
            changed = client.put(
                f"/api/v1/streams/{running.device_id}",
                headers=auth(world.admin),
                json={"resolution": "320x240", "bitrate": 500_000},
            )
            assert changed.status_code == 200, changed.text
        await eventually(lambda: running.agent.source.bound == (320, 240), within=10)
        # After a reconnect the device is told again, as soon as it publishes.
        running.agent.source.bound = None
        assert running.agent._ws is not None
        await running.agent._ws.close()
        await eventually(lambda: running.agent.published >= 2, within=20)
        await eventually(lambda: running.agent.source.bound == (320, 240), within=10)
