"""Video sources: steady synthetic frames, a looping file, a clear error without a camera."""

import asyncio
import fractions
import itertools
import time
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from lensguard.agent.driver import SimulatedRobot
from lensguard.agent.sources import (
    CLOCK_RATE,
    SourceError,
    SyntheticScene,
    open_camera,
    open_file,
    open_source,
)
from lensguard.agent.stamp import frame_luma, read_stamp


def pts_of(frames: list[av.VideoFrame]) -> list[int]:
    """Every frame's pts (each must have one)."""
    found = [f.pts for f in frames]
    assert all(p is not None for p in found)
    return [int(p or 0) for p in found]


async def test_synthetic_frames_are_stamped_on_the_90khz_clock() -> None:
    scene = SyntheticScene(320, 240, fps=30)
    frames = [await scene.recv() for _ in range(15)]
    scene.stop()
    pts = pts_of(frames)
    assert pts[0] == 0
    assert all(b > a and (b - a) % (CLOCK_RATE // 30) == 0 for a, b in itertools.pairwise(pts))
    assert all(f.time_base == fractions.Fraction(1, CLOCK_RATE) for f in frames)
    stamps = [read_stamp(frame_luma(f)) for f in frames]
    assert all(s is not None for s in stamps)
    assert abs(stamps[-1] - time.time_ns() // 1000) < 5_000_000  # type: ignore[operator]
    assert (frames[0].width, frames[0].height, frames[0].format.name) == (320, 240, "yuv420p")


async def test_synthetic_frames_are_paced_at_fps() -> None:
    scene = SyntheticScene(320, 240, fps=20)
    await scene.recv()
    started = time.monotonic()
    for _ in range(10):
        await scene.recv()
    elapsed = time.monotonic() - started
    scene.stop()
    # Ten frames at 20 fps are due 0.5 s after the first: never early.
    assert elapsed >= 0.45


async def test_a_late_consumer_skips_frames_instead_of_drifting() -> None:
    now = [100.0]
    scene = SyntheticScene(320, 240, fps=30, clock=lambda: now[0])
    first = await scene.recv()
    now[0] += 1.0  # the consumer stalled for a second
    late = await scene.recv()
    now[0] += 1 / 30
    after = await scene.recv()
    scene.stop()
    assert (first.pts, late.pts) == (0, CLOCK_RATE)
    assert after.pts == CLOCK_RATE + CLOCK_RATE // 30


async def test_the_robot_moves_the_view() -> None:
    now = [0.0]
    robot = SimulatedRobot(clock=lambda: now[0])
    scene = SyntheticScene(320, 240, fps=30, viewport=robot.viewport)
    before = frame_luma(await scene.recv()).copy()
    robot.move(0.0, 0.5)
    now[0] += 0.1
    view = robot.viewport()
    assert view.x == pytest.approx(12.0)
    assert (view.y, view.zoom) == (0.0, 0.0)
    after = frame_luma(await scene.recv())
    scene.stop()
    # The world (below the stamp, above the text) shifted sideways.
    assert not np.array_equal(before[100:160, :], after[100:160, :])


def write_video(path: Path, frames: int = 10, size: tuple[int, int] = (320, 240)) -> None:
    """A small H.264 MP4 whose frames are flat grey levels 0, 20, 40, ..."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            array = np.full((size[1], size[0], 3), index * 20, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


async def test_a_file_loops_with_pts_still_increasing(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_video(path, frames=10)
    source = open_file(path)
    try:
        frames = [await asyncio.wait_for(source.recv(), 5) for _ in range(25)]
    finally:
        source.stop()
    pts = pts_of(frames)
    assert all(b > a for a, b in itertools.pairwise(pts))
    levels = [int(frame_luma(f)[100, 100]) for f in frames]
    # Brightness ramps up, then starts over: the file played past its end, twice.
    drops = sum(1 for a, b in itertools.pairwise(levels) if b < a - 50)
    assert drops >= 2
    assert (frames[0].width, frames[0].height) == (320, 240)


async def test_a_file_without_loop_ends(tmp_path: Path) -> None:
    path = tmp_path / "short.mp4"
    write_video(path, frames=3)
    source = open_file(path, loop=False)
    ended = asyncio.Event()
    source.on("ended", ended.set)
    with pytest.raises(MediaStreamError):
        for _ in range(10):
            await asyncio.wait_for(source.recv(), 5)
    assert ended.is_set()


def test_missing_camera_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match=r"camera /dev/video77 does not exist: is it plugged in"):
        open_camera("/dev/video77")
    with pytest.raises(SourceError, match="does not exist"):
        open_source("v4l2:/dev/video77")


def test_source_specs() -> None:
    assert isinstance(open_source("synthetic", width=320, height=240), SyntheticScene)
    with pytest.raises(SourceError, match=r"video file /nope\.mp4 does not exist"):
        open_source("file:/nope.mp4")
    with pytest.raises(SourceError, match="unknown source 'rtsp://cam'"):
        open_source("rtsp://cam")


def test_a_file_that_is_not_video_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a video")
    with pytest.raises(SourceError, match="cannot open video file"):
        open_file(path)
