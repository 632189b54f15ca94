"""One received stream, many viewers: encoded packets fanned out without re-encoding.

This is also the one place where later stages attach: a recorder taps the same
packets, and AI processing (decode, process, encode once) sits between the
upstream receiver and this fan-out, so every viewer and the recording get the
same processed encoding.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lensguard.media.passthrough import Packet, PacketTrack

KEYFRAME_REQUEST_INTERVAL = 0.5
Tap = Callable[[Packet, bool], None]


class EncodedFanout:
    """Distributes encoded frames to viewer tracks and taps; asks upstream for keyframes."""

    def __init__(
        self,
        request_keyframe: Callable[[], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._request_keyframe = request_keyframe
        self._clock = clock
        self._last_request = -KEYFRAME_REQUEST_INTERVAL
        self.tracks: set[PacketTrack] = set()
        self.taps: list[Tap] = []
        self.frames = 0
        self.keyframes = 0

    def need_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most every half second."""
        now = self._clock()
        if now - self._last_request >= KEYFRAME_REQUEST_INTERVAL:
            self._last_request = now
            self._request_keyframe()

    def subscribe(self) -> PacketTrack:
        """A new viewer track; it starts at the next keyframe (requested now)."""
        track = PacketTrack(on_need_keyframe=self.need_keyframe)
        self.tracks.add(track)
        self.need_keyframe()
        return track

    def attach(self, track: PacketTrack) -> None:
        """Serve an existing track from here on (it waits for a keyframe, requested now)."""
        self.tracks.add(track)
        self.need_keyframe()

    def detach(self, track: PacketTrack) -> None:
        """Stop serving ``track`` without ending it (it is moving to another fan-out)."""
        self.tracks.discard(track)

    def unsubscribe(self, track: PacketTrack) -> None:
        self.tracks.discard(track)
        track.stop()

    def publish(self, packet: Packet, keyframe: bool) -> None:
        """Hand one encoded frame to every tap and viewer."""
        self.frames += 1
        self.keyframes += keyframe
        for tap in self.taps:
            tap(packet, keyframe)
        for track in list(self.tracks):
            if track.readyState != "live":
                self.tracks.discard(track)
                continue
            track.offer(packet, keyframe)

    def close(self) -> None:
        for track in list(self.tracks):
            self.unsubscribe(track)
