"""``RecordingManager``: makes each device's recording policy true on the node that holds it.

The node holding a device's signaling connection records it: the device publishes
through exactly one connection, so there is one recorder per device cluster-wide,
and no node records a device it cannot reach without a relay hop. That node is
told when the device publishes and when its connection ends (the signaling hub's
``on_publish`` and ``on_unpublish``), and hears every stream-policy change and
on-demand request from any node (the streams room's observers).

For a device that should record (``continuous``; ``on_demand`` while a person's
request runs; ``on_event`` through the event gate) the manager opens the device's
relay even when nobody watches, holds it open (``DeviceRelay.hold``: the idle close
and viewers leaving never end a recording) and runs a ``Recording`` on the relay's
processed fan-out, so a recording holds exactly what viewers see. A site with
``record_raw`` gets a second recording of ``relay.raw`` under the raw key ring.

Whenever the device, its relay or the policy changes, the manager compares what
runs with what should and stops (sealed) or starts recordings to match. A relay
that closes (the publisher dropped) ends its recordings cleanly; a new recording
starts when the device publishes again, so the timeline shows a gap between two
recordings, never a corrupt file. Each running recording has a row in
``recordings_open`` so that a node killed mid-segment seals it at its next start
(``recovery.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select

from lensguard.clock import Clock
from lensguard.logs import get_logger
from lensguard.media.fanout import EncodedFanout
from lensguard.media.relay import DeviceRelay, MediaNode
from lensguard.recordings.demand import demand_of
from lensguard.recordings.event import attach_triggers, event_gate, track_open
from lensguard.recordings.gate import EventGate
from lensguard.recordings.models import OpenRecording
from lensguard.recordings.recorder import Recorder, RecorderConfig
from lensguard.recordings.recovery import Recovered, recover
from lensguard.recordings.sink import SegmentSink
from lensguard.recordings.vault import RecordingVault
from lensguard.recordings.writer import Recording
from lensguard.store.streams import RecordingPolicy, StreamPolicy

log = get_logger("lensguard.recordings")
PolicyLoader = Callable[[str], Awaitable[StreamPolicy | None]]
RETRY_SECONDS = 5.0
"""After a relay closed under a device that is still connected, try again this late."""


@dataclass(frozen=True)
class Wanted:
    """What should run for one device: a whole recording or a gated one, and how."""

    gated: bool
    """True for ``on_event`` (segments go through the event gate)."""
    segment_seconds: float
    raw: bool
    policy: RecordingPolicy = field(compare=False)
    rolls: tuple[int, int] = (0, 0)
    """Pre- and post-roll of a gated recording: a change starts a new gate with them."""

    @classmethod
    def of(cls, rules: RecordingPolicy, default_segment: float) -> Wanted:
        """What ``rules`` record (for a mode that records: continuous, on_event, on_demand)."""
        gated = rules.mode == "on_event"
        rolls = (rules.pre_roll_seconds, rules.post_roll_seconds) if gated else (0, 0)
        segment = rules.segment_seconds or default_segment
        return cls(gated, segment, rules.record_raw, rules, rolls)


@dataclass(frozen=True)
class RecordingStatus:
    """A device's recording as any node sees it (from the database)."""

    mode: str
    recording: bool
    recording_id: str | None
    since: datetime | None
    requested: bool
    """An on-demand request is running (``POST .../recording``)."""


class _Stream:
    """One running recording of one fan-out (processed or raw)."""

    def __init__(
        self,
        stream: str,
        recorder: Recorder,
        recording: Recording | None,
        sink: SegmentSink,
    ) -> None:
        self.stream = stream
        self.recorder = recorder
        self.recording = recording
        self.sink = sink

    @property
    def recording_id(self) -> str | None:
        if self.recording is not None:
            return self.recording.sink.recording_id
        return self.sink.recording if isinstance(self.sink, EventGate) else None  # a clip

    async def stop(self) -> None:
        if self.recording is not None:
            await self.recording.stop()
            return
        await self.recorder.stop()
        close = getattr(self.sink, "close", None)
        if callable(close):
            result = close()
            if asyncio.iscoroutine(result):
                await result


@dataclass
class _Running:
    wanted: Wanted
    relay: DeviceRelay
    connection: str
    streams: list[_Stream]


class RecordingManager:
    """Starts and stops this node's recordings so that they match each device's policy."""

    def __init__(
        self,
        media: MediaNode,
        vault: RecordingVault,
        load: PolicyLoader,
        *,
        clock: Clock,
        node_id: str,
    ) -> None:
        self.media = media
        self.vault = vault
        self._load = load
        self._clock = clock
        self.node_id = node_id
        self._online: dict[str, str] = {}
        """Devices publishing through this node: device id -> connection id."""
        self._running: dict[str, _Running] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.recovered: Recovered | None = None

    # -- life ----------------------------------------------------------------------

    async def start(self) -> Recovered | None:
        """Seal what a crash of this node left open; call before any device connects."""
        try:
            self.recovered = await recover(
                self.vault.db, self.vault.audit, self.vault.store, self.node_id
            )
        except Exception as exc:  # a node must start with its database or store down
            log.error("recordings_recovery_failed", error=type(exc).__name__)
            return None
        if self.recovered.sealed or self.recovered.partials:
            log.warning(
                "recordings_recovered",
                sealed=self.recovered.sealed,
                empty=self.recovered.empty,
                partials=self.recovered.partials,
            )
        return self.recovered

    async def close(self) -> None:
        """Stop and seal every recording of this node."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for device_id in list(self._running):
            await self._stop(device_id)

    def recording(self, device_id: str) -> list[str]:
        """Ids of the recordings of ``device_id`` running on this node (processed first)."""
        running = self._running.get(device_id)
        if running is None:
            return []
        return [s.recording_id for s in running.streams if s.recording_id is not None]

    def streams(self, device_id: str) -> list[_Stream]:
        """The running recordings of ``device_id`` on this node."""
        running = self._running.get(device_id)
        return list(running.streams) if running is not None else []

    async def settled(self) -> None:
        """Wait until every change heard so far has been applied (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- what the hub and the streams room tell us ------------------------------------

    def device_online(self, device_id: str, connection: str) -> None:
        """``device_id`` publishes through ``connection`` on this node."""
        self._online[device_id] = connection
        self._schedule(device_id)

    def device_offline(self, device_id: str, connection: str) -> None:
        """``connection`` of ``device_id`` ended (ignored if the device reconnected since)."""
        if self._online.get(device_id) == connection:
            del self._online[device_id]
        self._schedule(device_id)

    def changed(self, device_id: str | None = None, site: str | None = None) -> None:
        """A stream policy or on-demand request changed somewhere in the cluster."""
        if device_id is not None:
            if device_id in self._online or device_id in self._running:
                self._schedule(device_id)
        elif site is not None:
            for known in {*self._online, *self._running}:
                self._schedule(known)

    # -- the on_event seam ------------------------------------------------------------

    def on_event_sink(
        self, relay: DeviceRelay, *, stream: str, policy: RecordingPolicy
    ) -> EventGate:
        """The sink of an ``on_event`` recorder: an event gate with the policy's pre- and
        post-roll, triggered by ``relay``'s detections and the app's HIGH incidents."""
        gate = event_gate(
            self.vault,
            relay.device_id,
            clock=self._clock,
            pre_roll=policy.pre_roll_seconds,
            post_roll=policy.post_roll_seconds,
            stream=stream,
        )
        track_open(gate, self.vault.db, node_id=self.node_id, clock=self._clock, stream=stream)
        attach_triggers(gate, relay, clock=self._clock, events=self.vault.events)
        return gate

    # -- status, from the database (any node answers) ------------------------------------

    async def status(self, device_id: str) -> RecordingStatus:
        """Mode, whether a recording runs (on whichever node), its id and start."""
        policy = await self._load(device_id)
        mode = policy.recording.mode if policy is not None else "off"
        async with self.vault.db.sessions() as session:
            demand = await demand_of(session, device_id)
            row = (
                (
                    await session.execute(
                        select(OpenRecording)
                        .where(
                            OpenRecording.device_id == device_id,
                            OpenRecording.stream == "processed",
                        )
                        .order_by(OpenRecording.started_at.desc())
                        .limit(1)
                    )
                )
                .scalars()
                .first()
            )
        return RecordingStatus(
            mode=mode,
            recording=row is not None,
            recording_id=row.recording_id if row is not None else None,
            since=row.started_at if row is not None else None,
            requested=demand is not None,
        )

    # -- making it true ----------------------------------------------------------------

    def _schedule(self, device_id: str, *, begin: bool = True) -> None:
        if self._closed:
            return
        task = asyncio.create_task(
            self._reconcile(device_id, begin=begin), name=f"recording {device_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording_reconcile_failed", error=type(task.exception()).__name__)

    async def _reconcile(self, device_id: str, *, begin: bool = True) -> None:
        lock = self._locks.setdefault(device_id, asyncio.Lock())
        async with lock:
            if self._closed:
                return
            wanted = await self._wanted(device_id)
            running = self._running.get(device_id)
            if running is not None and (
                running.relay.closed
                or running.wanted != wanted
                or running.connection != self._online.get(device_id)
            ):
                await self._stop(device_id)
                running = None
            if wanted is not None and running is None and begin:
                await self._begin(device_id, wanted)

    async def _wanted(self, device_id: str) -> Wanted | None:
        if device_id not in self._online:
            return None
        policy = await self._load(device_id)
        if policy is None:
            return None
        rules = policy.recording
        if rules.mode == "on_demand":
            async with self.vault.db.sessions() as session:
                if await demand_of(session, device_id) is None:
                    return None
        elif rules.mode not in ("continuous", "on_event"):
            return None
        return Wanted.of(rules, self.vault.settings.segment_seconds)

    async def _begin(self, device_id: str, wanted: Wanted) -> None:
        connection = self._online[device_id]
        stale = self.media.relays.get(device_id)
        if stale is not None and stale.device_conn not in (None, connection):
            await stale.close()  # the device reconnected: that relay is joined to the old socket
        try:
            relay = await self.media.relay_for(device_id)
        except Exception as exc:
            log.warning("recording_relay_failed", device_id=device_id, error=type(exc).__name__)
            return
        relay.hold(self)
        relay.on_close.append(self._relay_closed)
        config = RecorderConfig(segment_seconds=wanted.segment_seconds)
        streams = [await self._open(relay, relay.fanout, "processed", wanted, config)]
        if wanted.raw:
            streams.append(await self._open(relay, relay.raw, "raw", wanted, config))
        self._running[device_id] = _Running(wanted, relay, connection, streams)
        log.info(
            "recording_started",
            device_id=device_id,
            gated=wanted.gated,
            raw=wanted.raw,
            recordings=[s.recording_id for s in streams],
        )

    async def _open(
        self,
        relay: DeviceRelay,
        fanout: EncodedFanout,
        stream: str,
        wanted: Wanted,
        config: RecorderConfig,
    ) -> _Stream:
        device_id = relay.device_id
        if wanted.gated:
            sink = self.on_event_sink(relay, stream=stream, policy=wanted.policy)
            recorder = Recorder(fanout, sink, clock=self._clock, config=config)
            recorder.start()
            return _Stream(stream, recorder, None, sink)
        encrypted = self.vault.sink(device_id, stream=stream)
        async with self.vault.db.transaction() as session:
            session.add(
                OpenRecording(
                    recording_id=encrypted.recording_id,
                    device_id=device_id,
                    stream=stream,
                    node_id=self.node_id,
                    started_at=self._clock.now(),
                )
            )
        recording = Recording(fanout, encrypted, clock=self._clock, config=config)
        recording.start()
        return _Stream(stream, recording.recorder, recording, encrypted)

    async def _stop(self, device_id: str) -> None:
        running = self._running.pop(device_id, None)
        if running is None:
            return
        with contextlib.suppress(ValueError):
            running.relay.on_close.remove(self._relay_closed)
        for stream in running.streams:
            try:
                await stream.stop()
            except Exception as exc:
                log.error("recording_stop_failed", device_id=device_id, error=type(exc).__name__)
            recording_id = stream.recording_id
            if recording_id is not None:
                async with self.vault.db.transaction() as session:
                    await session.execute(
                        delete(OpenRecording).where(OpenRecording.recording_id == recording_id)
                    )
        running.relay.release(self)
        log.info("recording_stopped", device_id=device_id)

    def _relay_closed(self, relay: DeviceRelay) -> None:
        device_id = relay.device_id
        self._schedule(device_id, begin=False)  # seals what ran on it
        if device_id in self._online and not self._closed:
            # Still connected (the relay failed on its own, or the device is going and its
            # socket has not closed yet): try again later, never in a loop.
            self._clock.call_later(RETRY_SECONDS, lambda: self._schedule(device_id))
