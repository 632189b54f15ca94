"""Thumbnails: one small JPEG of a device's picture as viewers get it, cached briefly.

The frame is taken from the relay's viewer fan-out (``DeviceRelay.fanout``): after the
processing stage, so it is redacted wherever the stream's policy redacts, and never
from the raw fan-out, which only a break-glass grant opens. The relay is held open
while the snapshot is taken and closes after its usual idle grace if nobody watches.

A snapshot waits for the next keyframe (requested at once), decodes that one frame in
a worker thread, scales it to ``WIDTH`` pixels wide and encodes a JPEG. Answers are
cached per device for ``CACHE_SECONDS`` on the injected clock, and concurrent requests
for one device share one snapshot, so a wall of consoles asking every few seconds
costs one decode per device per period.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import av
import cv2

from lensguard.clock import Clock
from lensguard.media.fanout import EncodedFanout
from lensguard.media.passthrough import Packet

WIDTH = 320
CACHE_SECONDS = 5.0
WAIT_SECONDS = 5.0
JPEG_QUALITY = 75
MAX_CACHED = 1_000


class ThumbnailUnavailable(RuntimeError):
    """No picture could be taken (no keyframe in time, or one that would not decode)."""


@dataclass(frozen=True)
class Thumbnail:
    jpeg: bytes
    taken_at: float
    """Wall time (epoch seconds) of the frame."""


def to_jpeg(data: bytes, *, width: int = WIDTH) -> bytes:
    """One VP8 keyframe as a JPEG ``width`` pixels wide (aspect kept)."""
    codec = av.CodecContext.create("vp8", "r")
    try:
        frames = list(codec.decode(av.Packet(data)))
    except av.FFmpegError as exc:
        raise ThumbnailUnavailable("the keyframe did not decode") from exc
    if not frames:
        raise ThumbnailUnavailable("the keyframe held no picture")
    picture = frames[0].to_ndarray(format="bgr24")
    rows, columns = picture.shape[:2]
    height = max(1, round(rows * width / columns))
    small = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    encoded, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not encoded:
        raise ThumbnailUnavailable("the picture did not encode")
    return bytes(jpeg.tobytes())


async def next_keyframe(fanout: EncodedFanout, clock: Clock, wait: float) -> bytes:
    """The bytes of the next keyframe the fan-out publishes (one is asked for now)."""
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def tap(packet: Packet, keyframe: bool) -> None:
        if keyframe and not got.done():
            got.set_result(bytes(packet))

    fanout.taps.append(tap)
    fanout.need_keyframe()
    timer: asyncio.Future[None] = asyncio.ensure_future(clock.sleep(wait))
    timer.add_done_callback(lambda _: got.done() or got.cancel())
    try:
        return await got
    except asyncio.CancelledError:
        if timer.done() and not timer.cancelled():
            raise ThumbnailUnavailable(f"no keyframe within {wait:g} s") from None
        raise
    finally:
        timer.cancel()
        fanout.taps.remove(tap)


class Thumbnails:
    """Per-device snapshots for one media node, cached for ``CACHE_SECONDS``."""

    def __init__(
        self,
        source: Callable[[str], Awaitable[tuple[EncodedFanout, Callable[[], None]]]],
        clock: Clock,
        *,
        cache_seconds: float = CACHE_SECONDS,
        wait: float = WAIT_SECONDS,
    ) -> None:
        """``source(device_id)`` gives the device's viewer fan-out, held open, and the
        call that releases it."""
        self._source = source
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._wait = wait
        self._cached: dict[str, tuple[float, Thumbnail]] = {}
        self._taking: dict[str, asyncio.Future[Thumbnail]] = {}
        self._generation = 0

    async def get(self, device_id: str) -> Thumbnail:
        """A fresh enough snapshot of ``device_id``: from the cache, or taken now."""
        cached = self._cached.get(device_id)
        if cached is not None and self._clock.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        pending = self._taking.get(device_id)
        if pending is None:
            pending = asyncio.ensure_future(self._take(device_id))
            self._taking[device_id] = pending
            pending.add_done_callback(lambda _: self._taking.pop(device_id, None))
        return await asyncio.shield(pending)

    async def _take(self, device_id: str) -> Thumbnail:
        generation = self._generation
        fanout, release = await self._source(device_id)
        try:
            data = await next_keyframe(fanout, self._clock, self._wait)
        finally:
            release()
        jpeg = await asyncio.to_thread(to_jpeg, data)
        thumbnail = Thumbnail(jpeg, self._clock.time())
        if generation == self._generation:  # a policy change meanwhile: not kept
            if len(self._cached) >= MAX_CACHED:
                self._cached.pop(next(iter(self._cached)))
            self._cached[device_id] = (self._clock.monotonic(), thumbnail)
        return thumbnail

    def forget(self, device_id: str | None = None) -> None:
        """Drop a device's cached snapshot, or every one (``None``: a site's policy
        changed). A snapshot being taken meanwhile is answered but not cached, so a
        picture from before a redaction change is never served after it."""
        self._generation += 1
        if device_id is None:
            self._cached.clear()
        else:
            self._cached.pop(device_id, None)
