"""The processing stage: decode once, run the AI chain, encode once, fan out.

Sits between the relay's upstream receiver and ``EncodedFanout``: every viewer and
recorder gets the one processed encoding. Decoding, processing and encoding run on
one worker thread so the event loop never waits on them (BlazeFace may run one of its
two passes on an idle helper thread meanwhile); when the worker falls
behind, intermediate frames are skipped (decoded, never processed or sent). With
mandatory redaction a frame is published only after the chain finished on it; a
failing or slow chain yields a blank frame, never the original pixels.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fractions
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
import cv2

from lensguard.logs import get_logger
from lensguard.media.passthrough import Packet, is_keyframe
from lensguard.sizing import fit_within
from lensguard.vision.failclosed import redact_or_blank
from lensguard.vision.processor import Chain, Frame, Image, as_image

log = get_logger("lensguard.media")
TIME_BASE = fractions.Fraction(1, 90000)
MAX_BACKLOG = 60
ENCODER_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
# OpenCV's thread pool is process-wide, and its workers spin for a while after each
# parallel call: in the stage that spinning took the cores libvpx's own threads encode
# on (the encode right after the colour conversion took twice as long). Every stream
# already has its own worker thread, so OpenCV runs on one, as `lensguard worker` does.
OPENCV_THREADS = 1
# libvpx on two threads is faster only when frames come back to back: at a live 30 fps
# its threads sleep between frames, and waking them made each 640x480 encode take
# ~12 ms instead of ~4 on one thread (~15 against ~9 at 720p; bench/README.md,
# "Processing stage cost"). A stream's encode is one frame at a time, so one thread.
ENCODER_THREADS = 1


@dataclass
class StageStats:
    """What the stage did, for metrics and tests."""

    received: int = 0
    processed: int = 0
    skipped: int = 0
    failed: int = 0
    published: int = 0
    detections: list[Any] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        """The frame counters (not the last detections), for running totals."""
        return Counter(
            received=self.received,
            processed=self.processed,
            skipped=self.skipped,
            failed=self.failed,
            published=self.published,
        )


def to_image(frame: av.VideoFrame) -> Image:
    """A decoded picture as the BGR array processors take (a new array the stage owns)."""
    return as_image(frame.to_ndarray(format="bgr24"))


def to_i420(image: Image, pts: int | None) -> av.VideoFrame:
    """A processed BGR image as the encoder's yuv420p frame.

    OpenCV converts in one pass (BT.601, limited range, like swscale's default); it is
    ~4-6x faster than ``VideoFrame.from_ndarray(...).reformat("yuv420p")``, and closer
    to the input. I420 needs even sides, so an odd-sized frame takes the swscale path.
    """
    height, width = image.shape[:2]
    if width % 2 or height % 2:
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
    else:
        yuv = as_image(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420))
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    frame.pts = pts
    frame.time_base = TIME_BASE
    return frame


def fit(image: Image, bound: tuple[int, int] | None) -> Image:
    """``image`` scaled down (area filter, aspect kept) to fit ``bound``; never up."""
    if bound is None:
        return image
    height, width = image.shape[:2]
    size = fit_within(width, height, bound)
    if size == (width, height):
        return image
    return as_image(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def vp8_encoder(width: int, height: int, bitrate: int) -> Any:
    """libvpx for live video: realtime deadline, no look-ahead, one thread."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = TIME_BASE
    encoder.bit_rate = bitrate
    # cpu-used 8 kept on purpose: 15-16 nearly halve the encode but cost 2-7 dB at
    # 640x480 (worst frames ~30 dB) and fall to 30-35 dB at 1280x720; 12 gains nothing
    # (bench/README.md, "Processing stage cost").
    encoder.options = dict(ENCODER_OPTIONS)
    encoder.thread_count = ENCODER_THREADS
    return encoder


class ProcessingStage:
    """VP8 packets in, processed VP8 packets out (to ``publish``)."""

    def __init__(
        self,
        publish: Callable[[Packet, bool], None],
        *,
        chain: Chain,
        mandatory: bool,
        bitrate: int = 1_500_000,
        budget_ms: float = 50.0,
        loop: asyncio.AbstractEventLoop | None = None,
        on_detections: Callable[[int | None, list[Any]], None] | None = None,
    ) -> None:
        self._publish = publish
        self._on_detections = on_detections
        self.chain = chain
        self.mandatory = mandatory
        self.bitrate = bitrate
        self.budget_ms = budget_ms
        self._loop = loop or asyncio.get_event_loop()
        self._decoder = av.CodecContext.create("vp8", "r")
        self._encoder: Any = None
        self._backlog: deque[tuple[Packet, bool]] = deque(maxlen=MAX_BACKLOG)
        self._lock = threading.Lock()
        self._busy = False
        self._force_keyframe = True
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="lensguard-processing"
        )
        self.stats = StageStats()
        self.closed = False
        self.bound: tuple[int, int] | None = None
        """Scale the output down to fit this ``(width, height)``; None keeps the size."""
        self._new_encoder = False
        cv2.setNumThreads(OPENCV_THREADS)

    def configure(
        self,
        chain: Chain,
        *,
        mandatory: bool,
        bitrate: int | None = None,
        bound: tuple[int, int] | None = None,
    ) -> None:
        """Swap the chain, bitrate and size bound live (the next processed frame uses them)."""
        self.chain, self.mandatory = chain, mandatory
        if bitrate is not None and bitrate != self.bitrate:
            self.bitrate = bitrate
            self._new_encoder = True  # picked up on the worker thread, with a keyframe
        self.bound = bound

    def force_keyframe(self) -> None:
        """Make the next encoded frame a keyframe (a viewer joined or lost pictures)."""
        self._force_keyframe = True

    def push(self, packet: Packet, keyframe: bool) -> None:
        """Accept one upstream packet (on the event loop); never blocks."""
        if self.closed:
            return
        self.stats.received += 1
        with self._lock:
            self._backlog.append((packet, keyframe))
            if self._busy:
                return
            self._busy = True
        self._executor.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._backlog:
                    self._busy = False
                    return
                batch = list(self._backlog)
                self._backlog.clear()
            try:
                self._work(batch)
            except Exception as exc:  # a broken frame must not kill the stage
                log.warning("processing_failed", error=type(exc).__name__)

    def _work(self, batch: list[tuple[Packet, bool]]) -> None:
        for encoded in self.transcode(batch):
            self._loop.call_soon_threadsafe(self._emit, encoded)

    def transcode(self, batch: list[tuple[Packet, bool]]) -> list[Packet]:
        """Decode ``batch``, process its newest picture and encode it (worker thread only)."""
        # Every packet is decoded (VP8 deltas need their predecessors); only the newest
        # picture is processed and sent, the rest are skipped when we are behind.
        latest: av.VideoFrame | None = None
        for packet, _keyframe in batch:
            for decoded in self._decoder.decode(packet):
                if latest is not None:
                    self.stats.skipped += 1
                latest = decoded
        if latest is None:
            return []
        frame = Frame(to_image(latest), latest.pts)
        if self.mandatory:
            outcome = redact_or_blank(self.chain, frame, budget_ms=self.budget_ms)
            processed, detections, failed = outcome.frame, outcome.detections, outcome.failed
        else:
            try:
                result = self.chain.run(frame)
                processed, detections, failed = result.frame, result.detections, False
            except Exception:
                processed, detections, failed = frame, [], True
        self.stats.processed += 1
        self.stats.failed += failed
        # A failed frame's chain did not finish, so its empty list means "not looked",
        # not "no faces": reporting it told viewers a blanked frame had nothing in it
        # (a cold detector's first frame over budget did exactly that). Only frames
        # the chain finished are reported.
        if not failed:
            self.stats.detections = list(detections)
            if self._on_detections is not None:
                self._loop.call_soon_threadsafe(self._on_detections, latest.pts, list(detections))
        return self._encode(to_i420(fit(processed.image, self.bound), latest.pts))

    def _encode(self, frame: av.VideoFrame) -> list[Packet]:
        if (
            self._new_encoder
            or self._encoder is None
            or (self._encoder.width != frame.width or self._encoder.height != frame.height)
        ):
            self._new_encoder = False
            self._encoder = vp8_encoder(frame.width, frame.height, self.bitrate)
            self._force_keyframe = True
        if self._force_keyframe:
            self._force_keyframe = False
            frame.pict_type = av.video.frame.PictureType.I
        packets: list[Packet] = []
        for packet in self._encoder.encode(frame):
            packet.time_base = TIME_BASE
            packets.append(packet)
        return packets

    def _emit(self, packet: Packet) -> None:
        if not self.closed:
            self.stats.published += 1
            self._publish(packet, is_keyframe("VP8", bytes(packet)))

    def close(self) -> None:
        """Stop accepting packets; the worker finishes what it holds."""
        self.closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
