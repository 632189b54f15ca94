"""Which policy changes restart a running recording, and which keep it."""

from __future__ import annotations

from lensguard.recordings.manager import Wanted
from lensguard.store.streams import RecordingPolicy


def test_what_a_policy_change_restarts() -> None:
    continuous = Wanted.of(RecordingPolicy(mode="continuous"), 4.0)
    demanded = Wanted.of(RecordingPolicy(mode="on_demand"), 4.0)
    assert continuous == demanded  # continuous <-> a running on-demand: one recording
    assert continuous.segment_seconds == 4.0 and not continuous.gated
    longer = Wanted.of(RecordingPolicy(mode="continuous", segment_seconds=6.0), 4.0)
    raw = Wanted.of(RecordingPolicy(mode="continuous", record_raw=True), 4.0)
    assert longer != continuous and raw != continuous  # a new recording with the new shape
    gated = Wanted.of(RecordingPolicy(mode="on_event"), 4.0)
    assert gated.gated and gated != continuous and gated.rolls == (5, 10)
    rolls = Wanted.of(RecordingPolicy(mode="on_event", pre_roll_seconds=2), 4.0)
    assert rolls != gated  # the gate is made with its rolls: a change makes a new gate
    # Rolls mean nothing to a whole recording: changing them keeps it running.
    assert Wanted.of(RecordingPolicy(mode="continuous", post_roll_seconds=60), 4.0) == continuous
