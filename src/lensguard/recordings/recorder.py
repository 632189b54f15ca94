"""The recorder: taps one relay's fan-out and cuts what viewers see into WebM segments.

It is given the relay's processed fan-out (``DeviceRelay.fanout``: redaction
included), never the raw one, so a recording holds exactly what viewers see. Frames
are muxed as they arrive, unchanged (``muxer.py``). Once a segment has reached its
target length the recorder asks the publisher for a keyframe (the fan-out's
``need_keyframe``, which the fan-out throttles) and cuts at the next keyframe, so a
segment lasts the target plus about one round trip to the publisher.

The media timeline is the recording's own, in milliseconds from its first frame: a
continuous stream follows its RTP timestamps (smooth, no arrival jitter); after a
gap the next run is placed at the wall-clock time its first keyframe arrived. A gap
is silence longer than ``gap_seconds`` (seen by a timer on the injected clock) or a
jump in the RTP timestamps (the publisher came back as a new stream): the open
segment is closed there, and the next one starts at the next keyframe. Nothing is
ever written across a gap, so no file is corrupt.

The fan-out calls the tap synchronously for every frame, with viewers waiting behind
it; the tap never raises and never waits. Finished segments go through a short queue
to one writer task that hands them to the sink in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from lensguard.clock import Clock, Timer
from lensguard.logs import get_logger
from lensguard.media.fanout import EncodedFanout
from lensguard.media.passthrough import Packet
from lensguard.recordings.muxer import MuxedSegment, SegmentMuxer
from lensguard.recordings.sink import Segment, SegmentSink

log = get_logger("lensguard.recordings")
RTP_CLOCK = 90_000
RTP_WRAP = 1 << 32
MIN_SEGMENT, MAX_SEGMENT = 2.0, 10.0
QUEUE_DEPTH = 4


@dataclass(frozen=True)
class RecorderConfig:
    """How long segments are and how long a silence is a gap."""

    segment_seconds: float = 4.0
    gap_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not MIN_SEGMENT <= self.segment_seconds <= MAX_SEGMENT:
            raise ValueError("segment_seconds must be between 2 and 10")
        if not 0 < self.gap_seconds <= MAX_SEGMENT:
            raise ValueError("gap_seconds must be above 0 and at most 10")


@dataclass
class RecorderStats:
    """What the recorder did, for metrics and tests."""

    frames: int = 0
    skipped: int = 0
    """Frames that arrived while waiting for a keyframe (not recorded)."""
    segments: int = 0
    gaps: int = 0
    dropped: int = 0
    """Finished segments lost because the sink fell behind (queue full)."""
    failed: int = 0
    """Segments the sink raised on, or frames the muxer refused."""


class Recorder:
    """Records one fan-out into segments handed to ``sink``; runs only between start and stop."""

    def __init__(
        self,
        fanout: EncodedFanout,
        sink: SegmentSink,
        *,
        clock: Clock,
        config: RecorderConfig | None = None,
    ) -> None:
        self._fanout = fanout
        self._sink = sink
        self._clock = clock
        self.config = config or RecorderConfig()
        self.stats = RecorderStats()
        self._queue: asyncio.Queue[Segment | None] = asyncio.Queue(QUEUE_DEPTH + 1)
        self._writer: asyncio.Task[None] | None = None
        self._muxer: SegmentMuxer | None = None
        self._origin: float | None = None
        """Wall time of media 0 (the recording's first frame)."""
        self._run: tuple[int, int] | None = None
        """(unwrapped RTP timestamp, media ms) of the current run's first frame."""
        self._last_rtp = 0
        self._last_end_ms = 0
        self._after_gap = False
        self._last_arrival = 0.0
        self._watchdog: Timer | None = None
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Tap the fan-out and ask for a keyframe to begin on."""
        if self._running:
            return
        self._running = True
        self._writer = asyncio.create_task(self._write())
        self._fanout.taps.append(self._tap)
        self._fanout.need_keyframe()

    async def stop(self) -> None:
        """Untap, close the open segment cleanly and wait until the sink has every segment."""
        if not self._running:
            return
        self._running = False
        with contextlib.suppress(ValueError):
            self._fanout.taps.remove(self._tap)
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._close_segment()
        self._queue.put_nowait(None)  # room is kept for it: the queue holds one more
        if self._writer is not None:
            await self._writer

    def _tap(self, packet: Packet, keyframe: bool) -> None:
        try:
            self._on_frame(packet, keyframe)
        except Exception as exc:  # a bad frame must never reach the viewers' fan-out
            log.warning("recording_frame_failed", error=type(exc).__name__)
            self.stats.failed += 1
            self._close_segment()  # keep what was muxed before it; go on at a keyframe
            self._end_run()

    def _on_frame(self, packet: Packet, keyframe: bool) -> None:
        if not self._running or packet.pts is None:
            return
        self._last_arrival = self._clock.monotonic()
        if self._watchdog is None:
            self._arm(self.config.gap_seconds)
        rtp = self._unwrap(int(packet.pts))
        if self._run is not None:
            step = rtp - self._last_rtp
            if step <= 0 or step > self.config.gap_seconds * RTP_CLOCK:
                self._gap()  # the publisher came back as a new stream
        self._last_rtp = rtp
        if self._run is None:
            if not keyframe:
                self.stats.skipped += 1
                self._fanout.need_keyframe()
                return
            self._begin_run(rtp)
        self.stats.frames += 1
        run_rtp, run_ms = self._run or (rtp, 0)
        pts_ms = run_ms + (rtp - run_rtp) * 1000 // RTP_CLOCK
        muxer = self._muxer
        target_ms = int(self.config.segment_seconds * 1000)
        if muxer is not None and muxer.last_ms is not None:
            pts_ms = max(pts_ms, muxer.last_ms + 1)
            if keyframe and pts_ms - (muxer.start_ms or 0) >= target_ms:
                self._close_segment(end_ms=pts_ms)
                muxer = None
        if muxer is None:
            muxer = self._muxer = SegmentMuxer()
        muxer.add(bytes(packet), pts_ms, keyframe)
        if pts_ms - (muxer.start_ms or 0) >= target_ms:
            self._fanout.need_keyframe()

    def _unwrap(self, rtp: int) -> int:
        """The 32-bit RTP timestamp as a number that keeps counting past the wrap."""
        if self._run is None:
            return rtp
        base = self._last_rtp - (self._last_rtp % RTP_WRAP)
        candidates = (base - RTP_WRAP + rtp, base + rtp, base + RTP_WRAP + rtp)
        return min(candidates, key=lambda c: abs(c - self._last_rtp))

    def _begin_run(self, rtp: int) -> None:
        wall = self._clock.time()
        if self._origin is None:
            self._origin = wall
        start_ms = max(round((wall - self._origin) * 1000), self._last_end_ms)
        self._run = (rtp, start_ms)

    def _end_run(self) -> None:
        """The timeline breaks here: the next frame recorded starts a new run at a keyframe."""
        self._run = None
        self._after_gap = self._origin is not None

    def _gap(self) -> None:
        self.stats.gaps += 1
        self._close_segment()
        self._end_run()
        self._fanout.need_keyframe()

    def _arm(self, delay: float) -> None:
        self._watchdog = self._clock.call_later(delay, self._check_silence)

    def _check_silence(self) -> None:
        self._watchdog = None
        if not self._running:
            return
        silent = self._clock.monotonic() - self._last_arrival
        if silent < self.config.gap_seconds:
            self._arm(self.config.gap_seconds - silent)
            return
        if self._run is not None:
            log.info("recording_gap", seconds=round(silent, 1))
            self._gap()

    def _close_segment(self, *, end_ms: int | None = None) -> None:
        muxer, self._muxer = self._muxer, None
        if muxer is None or muxer.empty:
            return
        try:
            finished = muxer.finish(end_ms)
        except Exception as exc:
            log.warning("recording_segment_failed", error=type(exc).__name__)
            self.stats.failed += 1
            return
        self._last_end_ms = finished.end_ms
        self._hand_over(finished)

    def _hand_over(self, muxed: MuxedSegment) -> None:
        origin = self._origin or 0.0
        segment = Segment(
            start=datetime.fromtimestamp(origin + muxed.start_ms / 1000, UTC),
            end=datetime.fromtimestamp(origin + muxed.end_ms / 1000, UTC),
            data=muxed.data,
            start_ms=muxed.start_ms,
            end_ms=muxed.end_ms,
            keyframes=muxed.keyframes,
            frames=muxed.frames,
            width=muxed.width,
            height=muxed.height,
            after_gap=self._after_gap,
        )
        self._after_gap = False
        if self._queue.qsize() >= QUEUE_DEPTH:
            self.stats.dropped += 1
            log.warning("recording_segment_dropped", reason="sink_behind")
            return
        self.stats.segments += 1
        self._queue.put_nowait(segment)

    async def _write(self) -> None:
        while True:
            segment = await self._queue.get()
            if segment is None:
                return
            try:
                await self._sink.segment(segment)
            except Exception as exc:
                self.stats.failed += 1
                log.warning("recording_sink_failed", error=type(exc).__name__)
