"""From relay to disk: the recorder's segments encrypted, stored, indexed and anchored.

``EncryptedSink`` is the ``SegmentSink`` the recorder hands finished segments to.
Each segment gets its own data key and goes through ``write_segment`` (bytes to the
store first, then the chained index row) as the next segment of one recording of
one device's ``processed`` stream. The chain head is anchored in the audit log every
``anchor_every`` segments, so a running recording is covered, and sealed when the
recording stops.

A failure to keep a segment (disk full, object store or database unreachable) stops
the recording: it is logged, reported as a HIGH security event, and every later
segment is refused without touching the store. Nothing is raised into the recorder,
so the relay and its viewers never notice. What was written before stays a valid
chain (the failed segment never got an index row) and is sealed where it ends.

``Recording`` ties one ``Recorder`` to one ``EncryptedSink``; nothing records until
something calls ``start()``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from lensguard.audit.log import AuditLog
from lensguard.clock import Clock
from lensguard.logs import get_logger
from lensguard.media.fanout import EncodedFanout
from lensguard.monitor.event import SecurityEvent
from lensguard.monitor.events import emit
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings.index import Anchor, anchor
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.recorder import Recorder, RecorderConfig
from lensguard.recordings.segments import write_segment
from lensguard.recordings.sink import Segment
from lensguard.recordings.store import SegmentStore, new_segment_id
from lensguard.severity import Severity
from lensguard.store.db import Database

log = get_logger("lensguard.recordings")
DEFAULT_ANCHOR_EVERY = 15
"""Segments between anchors of a running recording: a minute at the default 4 s."""
FAILED_EVENT = "recording.store_failed"


class EncryptedSink:
    """Keeps one recording's segments: encrypted, stored, chained and anchored."""

    def __init__(
        self,
        db: Database,
        store: SegmentStore,
        ring: KeyRing,
        audit: AuditLog,
        *,
        device_id: str,
        stream: str = "processed",
        kind: str = "continuous",
        anchor_every: int = DEFAULT_ANCHOR_EVERY,
        events: EventPublisher | None = None,
    ) -> None:
        if anchor_every < 1:
            raise ValueError("anchor_every must be 1 or more")
        self._db, self._store, self._ring, self._audit = db, store, ring, audit
        self.device_id = device_id
        self.stream = stream
        self.kind = kind
        self.anchor_every = anchor_every
        self._events = events
        self.on_failure: list[Callable[[], None]] = []
        """Called once when the recording fails (``Recording`` stops the recorder here)."""
        self.recording_id = new_segment_id()
        self.written = 0
        """Segments stored and indexed."""
        self.refused = 0
        """Segments not kept because the recording had failed (the failing one included)."""
        self.failed = False
        self.sealed: Anchor | None = None
        self._progress = asyncio.Event()

    async def segment(self, segment: Segment) -> None:
        """Encrypt, store and index ``segment``; never raises (a failure stops the recording)."""
        if self.failed or self.sealed is not None:
            self.refused += 1
            return
        try:
            await write_segment(
                self._db,
                self._store,
                self._ring,
                recording_id=self.recording_id,
                device_id=self.device_id,
                stream=self.stream,
                started_at=segment.start,
                ended_at=segment.end,
                plaintext=segment.data,
                kind=self.kind,
            )
        except Exception as exc:
            self.refused += 1
            self._fail(exc)
            self._progress.set()
            return
        self.written += 1
        self._progress.set()
        if self.written % self.anchor_every == 0:
            try:
                await self._anchor(sealed=False)
            except Exception as exc:  # the segment is kept; the recording stops here
                self._fail(exc)

    async def close(self) -> Anchor | None:
        """Seal the recording: anchor its head for good (None when nothing was written)."""
        if self.sealed is not None or self.written == 0:
            return self.sealed
        try:
            self.sealed = await self._anchor(sealed=True)
        except Exception as exc:
            self._fail(exc)
        return self.sealed

    async def until_written(self, count: int) -> None:
        """Wait until ``count`` segments are kept, or the recording has failed."""
        while self.written < count and not self.failed:
            self._progress.clear()
            await self._progress.wait()

    async def _anchor(self, *, sealed: bool) -> Anchor:
        async with self._db.transaction() as session:
            return await anchor(session, self._audit, self.recording_id, sealed=sealed)

    def _fail(self, exc: Exception) -> None:
        first = not self.failed
        self.failed = True
        error = type(exc).__name__
        log.error(
            "recording_store_failed",
            device_id=self.device_id,
            recording_id=self.recording_id,
            segments=self.written,
            error=error,
        )
        if not first:
            return
        fields: dict[str, Any] = {
            "recording_id": self.recording_id,
            "segments": self.written,
            "error": error,
        }
        if self._events is not None:
            self._events.publish(
                SecurityEvent(
                    FAILED_EVENT,
                    Severity.HIGH,
                    resource=self.device_id,
                    outcome="failure",
                    fields=fields,
                    time=self._events.now(),
                )
            )
        else:
            emit(
                FAILED_EVENT,
                severity=Severity.HIGH,
                resource=self.device_id,
                outcome="failure",
                **fields,
            )
        for hook in self.on_failure:
            hook()


class Recording:
    """One recording of a fan-out (give it ``DeviceRelay.fanout``) into the encrypted store."""

    def __init__(
        self,
        fanout: EncodedFanout,
        sink: EncryptedSink,
        *,
        clock: Clock,
        config: RecorderConfig | None = None,
    ) -> None:
        self.sink = sink
        self.recorder = Recorder(fanout, sink, clock=clock, config=config)
        self._stopping: asyncio.Task[Anchor | None] | None = None
        sink.on_failure.append(self._failed)

    @property
    def running(self) -> bool:
        return self.recorder.running

    def start(self) -> None:
        """Tap the fan-out and begin recording at the next keyframe."""
        self.recorder.start()

    async def stop(self) -> Anchor | None:
        """Stop recording, keep every segment already cut, and seal the recording."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop())
        return await asyncio.shield(self._stopping)

    async def _stop(self) -> Anchor | None:
        await self.recorder.stop()
        return await self.sink.close()

    def _failed(self) -> None:
        # Called from the recorder's writer task: stopping waits for that task, so it
        # runs on its own task (the segments still queued are refused quickly).
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop())
            self._stopping.add_done_callback(_log_stop_error)


def _log_stop_error(task: asyncio.Task[Anchor | None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            log.error("recording_stop_failed", error=type(exc).__name__)
