"""``EventRecording``: an ``on_event`` recorder on one relay, its gate and its triggers.

The recorder taps the relay's processed fan-out (what viewers see) and hands every
segment to an ``EventGate``; the relay's detections (motion included) and the app's
HIGH incidents naming the device trigger it. Nothing is stored until a trigger.
``event_gate`` builds the gate on a ``RecordingVault``: clips are ``event``
recordings of the vault's store and keys.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from lensguard.clock import Clock
from lensguard.media.relay import DeviceRelay
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings.gate import EventGate
from lensguard.recordings.recorder import Recorder, RecorderConfig
from lensguard.recordings.triggers import DetectionTrigger, IncidentTrigger
from lensguard.recordings.vault import RecordingVault


def event_gate(
    vault: RecordingVault,
    device_id: str,
    *,
    clock: Clock,
    pre_roll: float,
    post_roll: float,
) -> EventGate:
    """A gate whose clips are ``event`` recordings of ``device_id`` in ``vault``."""
    return EventGate(
        lambda: vault.sink(device_id, kind="event"),
        device_id=device_id,
        db=vault.db,
        audit=vault.audit,
        clock=clock,
        pre_roll=pre_roll,
        post_roll=post_roll,
        max_buffer_bytes=vault.settings.pre_roll_max_bytes,
    )


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
        self.detections = DetectionTrigger(gate, now=clock.now, labels=labels)
        self.incidents = IncidentTrigger(gate)
        self._events = events
        self._detach: list[Callable[[], None]] = []

    @property
    def running(self) -> bool:
        return self.recorder.running

    def start(self) -> None:
        """Tap the fan-out (the pre-roll fills from the next keyframe) and listen for events."""
        if self.recorder.running:
            return
        self.recorder.start()
        self._detach.append(self.detections.attach(self.relay))
        if self._events is not None:
            self._detach.append(self.incidents.attach(self._events))

    async def stop(self) -> None:
        """Stop listening and recording; a clip that is open is sealed with what it has."""
        while self._detach:
            self._detach.pop()()
        await self.recorder.stop()
        await self.gate.close()
