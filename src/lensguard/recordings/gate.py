"""``EventGate``: the sink of an ``on_event`` recorder, which records only around events.

The recorder hands it every finished segment. While nothing has happened the gate
keeps the segments of the last ``pre_roll`` seconds (and one more, for events reported
a moment late) in memory, never anywhere else
(they are plaintext; a cap of ``max_buffer_bytes`` drops the oldest first), and
forgets older ones. ``trigger(reason, device_id, at)`` opens a new recording (a sink
from ``open_sink``, class ``event``): the kept segments that end after
``at - pre_roll`` go in first, then every segment the recorder cuts, up to the one
that ends after ``post_roll`` seconds past the last trigger (so it holds that
moment). A trigger while the recording is open moves that end, so a burst of
triggers is one recording. Then the recording is sealed (``close()`` anchors its
head for good). Should the segments stop (the publisher went away), a timer on the
injected clock seals it ``post_roll`` plus the longest segment after the last
trigger.

Segment times are the recorder's wall-clock times and ``at`` is the event's, so a
clip starts up to one segment before ``at - pre_roll`` (it cuts at keyframes) and
ends up to one segment after the post-roll. Each clip is audited:
``recording.event_started`` (device, the first trigger's reason and time, pre- and
post-roll) and ``recording.event_ended`` (every reason, triggers, segments, and the
end of the post-roll). Nothing raises into the recorder or into whatever triggers it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.clock import Clock, Timer
from lensguard.logs import get_logger
from lensguard.recordings.index import Anchor
from lensguard.recordings.recorder import MAX_SEGMENT
from lensguard.recordings.sink import Segment
from lensguard.store.db import Database

log = get_logger("lensguard.recordings")
STARTED, ENDED = "recording.event_started", "recording.event_ended"
MAX_PRE_ROLL, MAX_POST_ROLL = 300.0, 3600.0
DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024
"""The pre-roll cap: 30 s of a 16 Mb/s stream; 1.5 Mb/s for 10 s needs under 2 MiB."""
MAX_REASONS = 16
"""Distinct reasons kept per clip for its audit rows (the count of triggers is kept too)."""
STALL_GRACE = MAX_SEGMENT + 2.0
"""Seconds past the post-roll a clip waits for a segment that ends it, then is sealed."""


class ClipSink(Protocol):
    """One event recording: takes segments in order, then is sealed (``EncryptedSink``)."""

    recording_id: str
    written: int
    failed: bool

    async def segment(self, segment: Segment) -> None: ...

    async def close(self) -> Anchor | None: ...


@dataclass
class _Clip:
    sink: ClipSink
    first: datetime
    last: datetime
    ends: datetime
    reasons: list[str]
    triggers: int = 1
    pending: deque[Segment] = field(default_factory=deque)
    started: bool = False


@dataclass
class GateStats:
    """What the gate did, for metrics and tests."""

    received: int = 0
    """Segments the recorder handed over."""
    buffered_bytes: int = 0
    evicted: int = 0
    """Segments dropped from the pre-roll by the byte cap (not by age)."""
    clips: int = 0
    triggers: int = 0


class EventGate:
    """A ``SegmentSink`` that turns a continuous stream of segments into event clips."""

    def __init__(
        self,
        open_sink: Callable[[], ClipSink],
        *,
        device_id: str,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        pre_roll: float,
        post_roll: float,
        max_buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    ) -> None:
        if not 0 <= pre_roll <= MAX_PRE_ROLL:
            raise ValueError(f"pre_roll must be between 0 and {MAX_PRE_ROLL:g} seconds")
        if not 0 <= post_roll <= MAX_POST_ROLL:
            raise ValueError(f"post_roll must be between 0 and {MAX_POST_ROLL:g} seconds")
        if max_buffer_bytes < 0:
            raise ValueError("max_buffer_bytes cannot be negative")
        self._open_sink = open_sink
        self.device_id = device_id
        self._db, self._audit, self._clock = db, audit, clock
        self.pre_roll = timedelta(seconds=pre_roll)
        self.post_roll = timedelta(seconds=post_roll)
        self.max_buffer_bytes = max_buffer_bytes
        self.stats = GateStats()
        self.stream_end: datetime | None = None
        """When the newest segment handed over ends."""
        self.recordings: list[str] = []
        """Ids of the clips this gate opened, in order."""
        self.on_open: list[Callable[[str], Awaitable[None]]] = []
        """Awaited with a clip's recording id before its first segment is written."""
        self.on_sealed: list[Callable[[str], Awaitable[None]]] = []
        """Awaited with a clip's recording id once it is sealed."""
        self.on_close: list[Callable[[], None]] = []
        """Called once when the gate closes (its triggers detach here)."""
        self._buffer: deque[Segment] = deque()
        self._clip: _Clip | None = None
        self._lock = asyncio.Lock()
        self._stall: Timer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._capped = False
        self._closed = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._progress = asyncio.Event()

    @property
    def recording(self) -> str | None:
        """The id of the clip being recorded now, if any."""
        return self._clip.sink.recording_id if self._clip is not None else None

    def trigger(self, reason: str, device_id: str, at: datetime) -> bool:
        """An event at ``at``: open a clip or extend the open one. False when ignored."""
        if at.tzinfo is None:
            raise ValueError("trigger times must be timezone-aware")
        if device_id != self.device_id or self._closed:
            return False
        self.stats.triggers += 1
        clip = self._clip
        if clip is not None:
            clip.triggers += 1
            if reason not in clip.reasons and len(clip.reasons) < MAX_REASONS:
                clip.reasons.append(reason)
            if at > clip.last:
                clip.last, clip.ends = at, at + self.post_roll
                self._arm()
            return True
        try:
            sink = self._open_sink()
        except Exception as exc:
            log.error("recording_event_open_failed", device_id=device_id, error=type(exc).__name__)
            return False
        since = at - self.pre_roll
        clip = _Clip(sink, first=at, last=at, ends=at + self.post_roll, reasons=[reason])
        clip.pending.extend(s for s in self._buffer if s.end > since)
        self._buffer.clear()
        self.stats.buffered_bytes = 0
        self._clip = clip
        self.stats.clips += 1
        self.recordings.append(sink.recording_id)
        self._idle.clear()
        self._arm()
        self._spawn(self._drain_locked())  # the pre-roll goes in now, not at the next segment
        return True

    async def segment(self, segment: Segment) -> None:
        """Keep ``segment`` for the pre-roll, or record it in the open clip; never raises."""
        self.stats.received += 1
        self.stream_end = segment.end
        self._progress.set()
        async with self._lock:
            if self._clip is None:
                if not self._closed:
                    self._keep(segment)
                return
            self._clip.pending.append(segment)
            await self._drain()

    async def close(self) -> None:
        """The recorder stopped: seal the open clip and forget the pre-roll."""
        if not self._closed:
            for hook in self.on_close:
                try:
                    hook()
                except Exception as exc:
                    log.warning("recording_event_hook_failed", error=type(exc).__name__)
        self._closed = True
        self._buffer.clear()
        self.stats.buffered_bytes = 0
        async with self._lock:
            if self._clip is not None:
                await self._drain()
                if self._clip is not None:
                    await self._end()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def until_received(self, count: int) -> None:
        """Wait until the recorder has handed over ``count`` segments."""
        while self.stats.received < count:
            self._progress.clear()
            await self._progress.wait()

    async def until_idle(self) -> None:
        """Wait until no clip is open (every clip opened so far is sealed)."""
        await self._idle.wait()

    def _keep(self, segment: Segment) -> None:
        self._buffer.append(segment)
        self.stats.buffered_bytes += len(segment.data)
        # Only what a trigger could still ask for: segments ending within the pre-roll
        # of the newest one's start. The recorder's open segment covers the time after
        # it; the newest one's length is slack for an event reported after its segment
        # was cut (a detection or an incident arrives a moment after the frame).
        since = segment.start - self.pre_roll
        while self._buffer and self._buffer[0].end <= since:
            self._forget()
        while self._buffer and self.stats.buffered_bytes > self.max_buffer_bytes:
            self._forget()
            self.stats.evicted += 1
            if not self._capped:
                self._capped = True
                log.warning(
                    "recording_pre_roll_capped",
                    device_id=self.device_id,
                    max_buffer_bytes=self.max_buffer_bytes,
                )
        if self.stats.buffered_bytes <= self.max_buffer_bytes // 2:
            self._capped = False

    def _forget(self) -> None:
        self.stats.buffered_bytes -= len(self._buffer.popleft().data)

    async def _drain_locked(self) -> None:
        async with self._lock:
            await self._drain()

    async def _drain(self) -> None:
        """Write the open clip's pending segments; seal it once one ends the post-roll."""
        clip = self._clip
        if clip is None:
            return
        if not clip.started:
            clip.started = True
            await self._hooks(self.on_open, clip)
            await self._record(
                STARTED,
                clip,
                reason=clip.reasons[0],
                at=clip.first.isoformat(),
                pre_roll=self.pre_roll.total_seconds(),
                post_roll=self.post_roll.total_seconds(),
            )
        while clip.pending:
            segment = clip.pending.popleft()
            await clip.sink.segment(segment)  # EncryptedSink never raises
            if segment.end > clip.ends:
                await self._end()
                return

    async def _end(self) -> None:
        clip, self._clip = self._clip, None
        if clip is None:
            return
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        await clip.sink.close()
        await self._hooks(self.on_sealed, clip)
        await self._record(
            ENDED,
            clip,
            reasons=list(clip.reasons),
            segments=clip.sink.written,
            triggers=clip.triggers,
            until=clip.ends.isoformat(),
        )
        log.info(
            "recording_event_ended",
            device_id=self.device_id,
            recording_id=clip.sink.recording_id,
            segments=clip.sink.written,
        )
        self._idle.set()

    def _arm(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
        delay = (self._clip.ends - self._clip.last).total_seconds() if self._clip else 0.0
        self._stall = self._clock.call_later(delay + STALL_GRACE, self._stalled)

    def _stalled(self) -> None:
        self._stall = None
        clip = self._clip
        if clip is None:
            return
        log.info("recording_event_stalled", device_id=self.device_id)
        self._spawn(self._end_stalled(clip))

    async def _end_stalled(self, clip: _Clip) -> None:
        async with self._lock:
            if self._clip is clip and self._stall is None:
                await self._drain()
                if self._clip is clip:
                    await self._end()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording_event_failed", error=type(task.exception()).__name__)

    async def _hooks(self, hooks: list[Callable[[str], Awaitable[None]]], clip: _Clip) -> None:
        for hook in hooks:
            try:
                await hook(clip.sink.recording_id)
            except Exception as exc:
                log.error("recording_event_hook_failed", error=type(exc).__name__)

    async def _record(self, action: str, clip: _Clip, **details: Any) -> None:
        event = AuditEvent(
            action=action,
            outcome="failure" if clip.sink.failed else "success",
            actor_type="system",
            resource_type="recording",
            resource_id=clip.sink.recording_id,
            details={"device_id": self.device_id, **details},
        )
        try:
            async with self._db.transaction() as session:
                await self._audit.append(session, event)
        except Exception as exc:  # the clip is kept; its audit row is what is lost
            log.error("recording_event_audit_failed", action=action, error=type(exc).__name__)
