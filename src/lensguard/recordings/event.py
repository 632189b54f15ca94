"""``EventRecording``: an ``on_event`` recorder on one relay, its gate and its triggers.

The recorder taps the relay's processed fan-out (what viewers see) and hands every
segment to an ``EventGate``; the relay's detections (motion included) and the app's
HIGH incidents naming the device trigger it. Nothing is stored until a trigger.
``event_gate`` builds the gate on a ``RecordingVault``: clips are ``event``
recordings of the vault's store and keys. The recording manager runs ``on_event``
devices this way (``RecordingManager.on_event_sink``): ``attach_triggers`` feeds the
gate, and ``track_open`` gives each clip a row in ``recordings_open`` while it runs,
so a node killed mid-clip seals it as interrupted at its next start.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete

from lensguard.clock import Clock
from lensguard.media.relay import DeviceRelay
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings.gate import EventGate
from lensguard.recordings.models import OpenRecording
from lensguard.recordings.recorder import Recorder, RecorderConfig
from lensguard.recordings.triggers import DetectionTrigger, IncidentTrigger
from lensguard.recordings.vault import RecordingVault
from lensguard.store.db import Database


def event_gate(
    vault: RecordingVault,
    device_id: str,
    *,
    clock: Clock,
    pre_roll: float,
    post_roll: float,
    stream: str = "processed",
) -> EventGate:
    """A gate whose clips are ``event`` recordings of ``device_id``'s ``stream`` in ``vault``."""
    return EventGate(
        lambda: vault.sink(device_id, stream=stream, kind="event"),
        device_id=device_id,
        db=vault.db,
        audit=vault.audit,
        clock=clock,
        pre_roll=pre_roll,
        post_roll=post_roll,
        max_buffer_bytes=vault.settings.pre_roll_max_bytes,
    )


def attach_triggers(
    gate: EventGate,
    relay: DeviceRelay,
    *,
    clock: Clock,
    events: EventPublisher | None,
    labels: Collection[str] | None = None,
) -> None:
    """Trigger ``gate`` on ``relay``'s detections and ``events``' incidents until it closes."""
    if gate.device_id != relay.device_id:
        raise ValueError("the gate records another device")
    gate.on_close.append(DetectionTrigger(gate, now=clock.now, labels=labels).attach(relay))
    if events is not None:
        gate.on_close.append(IncidentTrigger(gate).attach(events))


def track_open(gate: EventGate, db: Database, *, node_id: str, clock: Clock, stream: str) -> None:
    """Keep a ``recordings_open`` row for each of ``gate``'s clips from open to seal."""

    async def opened(recording_id: str) -> None:
        async with db.transaction() as session:
            session.add(
                OpenRecording(
                    recording_id=recording_id,
                    device_id=gate.device_id,
                    stream=stream,
                    node_id=node_id,
                    started_at=clock.now(),
                )
            )

    async def sealed(recording_id: str) -> None:
        async with db.transaction() as session:
            await session.execute(
                delete(OpenRecording).where(OpenRecording.recording_id == recording_id)
            )

    gate.on_open.append(opened)
    gate.on_sealed.append(sealed)


class EventRecording:
    """Records ``relay`` through ``gate``, triggered by its detections and by incidents."""

    def __init__(
        self,
        relay: DeviceRelay,
        gate: EventGate,
        *,
        clock: Clock,
        events: EventPublisher | None = None,
        labels: Collection[str] | None = None,
        config: RecorderConfig | None = None,
    ) -> None:
        if gate.device_id != relay.device_id:
            raise ValueError("the gate records another device")
        self.relay, self.gate = relay, gate
        self.recorder = Recorder(relay.fanout, gate, clock=clock, config=config)
        self._clock, self._events, self._labels = clock, events, labels

    @property
    def running(self) -> bool:
        return self.recorder.running

    def start(self) -> None:
        """Tap the fan-out (the pre-roll fills from the next keyframe) and listen for events."""
        if self.recorder.running:
            return
        self.recorder.start()
        attach_triggers(
            self.gate, self.relay, clock=self._clock, events=self._events, labels=self._labels
        )

    async def stop(self) -> None:
        """Stop recording and listening; a clip that is open is sealed with what it has."""
        await self.recorder.stop()
        await self.gate.close()
