"""The agent's source, scaled down to the resolution the server asks for (live)."""

from __future__ import annotations

from typing import Any

from aiortc.mediastreams import MediaStreamTrack
from av import VideoFrame
from av.frame import Frame
from av.packet import Packet

from lensguard.logs import get_logger
from lensguard.sizing import fit_within, parse_resolution

log = get_logger("lensguard.agent")


class Rescaled(MediaStreamTrack):
    """Frames of ``inner``, scaled (aspect kept) to fit the bound set by ``apply``."""

    kind = "video"

    def __init__(self, inner: MediaStreamTrack) -> None:
        super().__init__()
        self.inner = inner
        self.bound: tuple[int, int] | None = None
        inner.on("ended", self.stop)

    def apply(self, settings: dict[str, Any]) -> None:
        """Take the server's ``settings`` message; a bad value is logged and ignored."""
        resolution = settings.get("resolution")
        if resolution is None:
            if self.bound is not None:
                log.info("settings.resolution", resolution="source")
            self.bound = None  # unset: the source's own size
            return
        if not isinstance(resolution, str):
            return
        try:
            bound = parse_resolution(resolution)
        except ValueError:
            log.warning("settings.bad_resolution", value=resolution[:32])
            return
        if bound != self.bound:
            self.bound = bound
            log.info("settings.resolution", resolution=resolution)

    async def recv(self) -> Frame | Packet[Any]:
        frame = await self.inner.recv()
        if not isinstance(frame, VideoFrame) or self.bound is None:
            return frame
        size = fit_within(frame.width, frame.height, self.bound)
        if size == (frame.width, frame.height):
            return frame
        scaled = frame.reformat(width=size[0], height=size[1])
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
        return scaled

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            self.inner.stop()
