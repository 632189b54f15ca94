"""Video sources for the agent: the synthetic scene, a looping file, a V4L2 camera.

Every source is an aiortc ``VideoStreamTrack`` whose frames carry ``pts`` in the
90 kHz RTP clock, counted from the track's own start and strictly increasing, so a
looping file or a camera that restarts never makes the stream's clock run backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
from av import VideoFrame
from av.container import InputContainer

from lensguard.agent.scene import SceneRenderer, Viewport
from lensguard.logs import get_logger

CLOCK_RATE = 90_000
TIME_BASE = fractions.Fraction(1, CLOCK_RATE)
log = get_logger("lensguard.agent.sources")


class SourceError(Exception):
    """Raised when a video source cannot be opened or named source is not understood."""


class SyntheticScene(VideoStreamTrack):
    """A moving test pattern at a steady rate, stamped with its capture time."""

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        *,
        viewport: Callable[[], Viewport] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if not 1 <= fps <= 120:
            raise ValueError("fps must be between 1 and 120")
        self.renderer = SceneRenderer(width, height)
        self.fps = fps
        self.viewport = viewport or Viewport
        self._clock = clock
        self._t0: float | None = None
        self._index = -1

    async def _next_index(self) -> int:
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
            return 0
        index = self._index + 1
        # Deadlines come from the start time, not the previous frame: no drift.
        due = self._t0 + index / self.fps
        if now < due:
            await asyncio.sleep(due - now)
        elif now - due > 1 / self.fps:
            # Fell behind (a busy machine): skip frames so pts keeps matching real time.
            index = int((now - self._t0) * self.fps)
        return index

    async def recv(self) -> VideoFrame:
        """The next frame, due at ``start + index / fps``."""
        if self.readyState != "live":
            raise MediaStreamError
        self._index = await self._next_index()
        t_us = time.time_ns() // 1000
        frame = VideoFrame.from_ndarray(
            self.renderer.render(self._index, t_us, self.viewport()), format="yuv420p"
        )
        frame.pts = self._index * CLOCK_RATE // self.fps
        frame.time_base = TIME_BASE
        return frame


class ContainerSource(VideoStreamTrack):
    """Frames decoded by PyAV in a worker thread; the newest frame wins."""

    def __init__(self, container: InputContainer, *, name: str, pace: bool, loop: bool) -> None:
        super().__init__()
        if not container.streams.video:
            container.close()
            raise SourceError(f"{name} has no video stream")
        self.name = name
        self._container = container
        self._stream = container.streams.video[0]
        self._pace = pace
        self._repeat = loop
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None
        self._latest: VideoFrame | None = None
        self._ended = False
        self._ready = asyncio.Event()
        self._t0 = 0.0
        self._last_pts = -1

    def _frames(self) -> Iterator[VideoFrame]:
        while not self._quit.is_set():
            produced = False
            for frame in self._container.decode(self._stream):
                produced = True
                yield frame
                if self._quit.is_set():
                    return
            if not (self._repeat and produced):
                return
            self._container.seek(0)

    def _work(self, loop: asyncio.AbstractEventLoop) -> None:
        rate = float(self._stream.average_rate or self._stream.guessed_rate or 30)
        started = time.monotonic()
        try:
            for count, frame in enumerate(self._frames()):
                if self._pace:
                    # A file decodes faster than real time: release frames at its rate.
                    delay = started + count / rate - time.monotonic()
                    if delay > 0 and self._quit.wait(delay):
                        return
                loop.call_soon_threadsafe(self._publish, frame)
        except (av.FFmpegError, OSError) as exc:
            log.error("source.failed", source=self.name, error=str(exc)[:200])
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(self._publish, None)

    def _publish(self, frame: VideoFrame | None) -> None:
        if frame is None:
            self._ended = True
        else:
            self._latest = frame
        self._ready.set()

    async def recv(self) -> VideoFrame:
        """The newest decoded frame, re-timed on the 90 kHz clock."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._thread is None:
            self._t0 = time.monotonic()
            self._thread = threading.Thread(
                target=self._work, args=(asyncio.get_running_loop(),), daemon=True
            )
            self._thread.start()
        await self._ready.wait()
        self._ready.clear()
        frame = self._latest
        if frame is None or self._ended:
            self.stop()
            raise MediaStreamError
        pts = int((time.monotonic() - self._t0) * CLOCK_RATE)
        self._last_pts = max(pts, self._last_pts + 1)
        frame.pts = self._last_pts
        frame.time_base = TIME_BASE
        return frame

    def stop(self) -> None:
        """Stop decoding and release the file or device."""
        super().stop()
        self._quit.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        with contextlib.suppress(Exception):
            self._container.close()


def open_file(path: Path, *, loop: bool = True) -> ContainerSource:
    """A video file played at its own frame rate, from the start again at the end."""
    if not path.is_file():
        raise SourceError(f"video file {path} does not exist")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open video file {path}: {exc}") from None
    return ContainerSource(container, name=str(path), pace=True, loop=loop)


def open_camera(
    device: str = "/dev/video0", *, width: int = 640, height: int = 480, fps: int = 30
) -> ContainerSource:
    """A V4L2 camera through PyAV, asking it for ``width`` x ``height`` at ``fps``."""
    if not Path(device).exists():
        raise SourceError(
            f"camera {device} does not exist: is it plugged in? "
            "(`v4l2-ctl --list-devices` lists the cameras this machine sees)"
        )
    options = {"video_size": f"{width}x{height}", "framerate": str(fps)}
    try:
        container = av.open(device, mode="r", format="v4l2", options=options)
    except PermissionError:
        raise SourceError(
            f"no permission to open {device}: add the agent's user to the 'video' group"
        ) from None
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open camera {device}: {exc}") from None
    # The camera paces itself; waiting in the reader would only add latency.
    return ContainerSource(container, name=device, pace=False, loop=False)


def open_source(
    spec: str,
    *,
    width: int = 640,
    height: int = 480,
    fps: int = 30,
    viewport: Callable[[], Viewport] | None = None,
) -> VideoStreamTrack:
    """The source named by ``spec``: ``synthetic``, ``file:PATH``, ``v4l2:DEVICE`` or a path."""
    kind, _, rest = spec.partition(":")
    if spec == "synthetic":
        return SyntheticScene(width, height, fps, viewport=viewport)
    if kind == "file" and rest:
        return open_file(Path(rest))
    if kind == "v4l2":
        return open_camera(rest or "/dev/video0", width=width, height=height, fps=fps)
    if spec.startswith("/dev/video"):
        return open_camera(spec, width=width, height=height, fps=fps)
    if Path(spec).is_file():
        return open_file(Path(spec))
    raise SourceError(
        f"unknown source {spec!r}: use synthetic, file:PATH, v4l2:/dev/videoN or a file path"
    )
