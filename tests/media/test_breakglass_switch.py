"""A break-glass viewer's track moves between the raw and processed encodings in place."""

from __future__ import annotations

from typing import Any, cast

import av

from lensguard.bus.memory import MemoryBus
from lensguard.clock import ManualClock
from lensguard.media.passthrough import PacketTrack
from lensguard.media.relay import DeviceRelay, ViewerEndpoint


async def no_control(_: str) -> None:
    return None


def endpoint_with_track(
    clock: ManualClock | None = None,
) -> tuple[DeviceRelay, ViewerEndpoint, PacketTrack]:
    relay = DeviceRelay(MemoryBus(), "dev-1", lambda _: None, clock=clock or ManualClock())
    endpoint = ViewerEndpoint(relay, "viewer-conn", no_control)
    track = PacketTrack(on_need_keyframe=lambda: None)
    endpoint.track = track
    relay.fanout.attach(track)
    return relay, endpoint, track


def stand_in(tag: bytes) -> av.Packet[Any]:
    """A tag in place of a packet: the fan-out forwards packets without looking inside."""
    return cast("av.Packet[Any]", tag)


def queued(track: PacketTrack) -> list[Any]:
    items = []
    while not track._queue.empty():
        items.append(track._queue.get_nowait())
    return items


async def test_the_grant_expires_on_time_and_the_viewer_goes_back_to_redacted() -> None:
    clock = ManualClock()
    relay, endpoint, track = endpoint_with_track(clock)
    ended: list[tuple[str, float, str]] = []

    async def on_end(grant_id: str, seconds: float, reason: str) -> None:
        ended.append((grant_id, seconds, reason))

    endpoint.on_unredacted_end = on_end
    endpoint.open_unredacted("grant-1", clock.time() + 600)
    assert endpoint.source is relay.raw and track in relay.raw.tracks
    assert track not in relay.fanout.tracks
    relay.raw.publish(stand_in(b"raw-delta"), False)
    relay.raw.publish(stand_in(b"raw-key"), True)
    relay.fanout.publish(stand_in(b"processed-key"), True)
    assert queued(track) == [b"raw-key"]  # from a keyframe of the new source only

    await clock.advance(599.5)
    assert ended == [] and endpoint.source is relay.raw
    await clock.advance(0.5)  # the expiry timer ends the raw view at the grant's end
    assert ended == [("grant-1", 600.0, "expired")]
    assert endpoint.grant_id is None and endpoint.source is relay.fanout
    relay.raw.publish(stand_in(b"raw-key-2"), True)
    relay.fanout.publish(stand_in(b"processed-delta"), False)
    relay.fanout.publish(stand_in(b"processed-key-2"), True)
    assert queued(track) == [b"processed-key-2"]
    assert track.readyState == "live"  # same track: no renegotiation


async def test_closing_the_endpoint_ends_the_raw_view_once() -> None:
    relay, endpoint, track = endpoint_with_track()
    reasons: list[str] = []

    async def on_end(grant_id: str, seconds: float, reason: str) -> None:
        reasons.append(reason)

    endpoint.on_unredacted_end = on_end
    endpoint.open_unredacted("grant-2", relay.clock.time() + 60)
    await endpoint.close()
    await endpoint.close_unredacted("again")
    assert reasons == ["left"]
    assert track.readyState == "ended"
    assert not relay.raw.tracks and not relay.fanout.tracks


async def test_an_expired_grant_never_switches() -> None:
    relay, endpoint, track = endpoint_with_track()
    endpoint.open_unredacted("grant-3", relay.clock.time() - 5)
    assert endpoint.source is relay.fanout and endpoint.grant_id is None
    relay.raw.publish(stand_in(b"raw-key"), True)
    assert queued(track) == []
