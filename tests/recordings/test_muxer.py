"""VP8 frames muxed into WebM segments unchanged: each file decodes on its own, in order."""

from __future__ import annotations

import io
import itertools

import av
import pytest

from lensguard.recordings.muxer import MuxedSegment, MuxError, SegmentMuxer, vp8_keyframe_size
from tests.recordings.vp8 import Encoded, encode


def mux(frames: list[Encoded], *, end_ms: int | None = None) -> MuxedSegment:
    muxer = SegmentMuxer()
    for frame in frames:
        muxer.add(frame.data, frame.pts // 90, frame.keyframe)
    return muxer.finish(end_ms)


def segments_of(frames: list[Encoded], cuts: list[int]) -> list[MuxedSegment]:
    bounds = [0, *cuts, len(frames)]
    parts = [frames[a:b] for a, b in itertools.pairwise(bounds)]
    return [
        mux(part, end_ms=nxt[0].pts // 90 if nxt else None)
        for part, nxt in zip(parts, [*parts[1:], []], strict=True)
    ]


def test_each_segment_decodes_on_its_own_with_the_recordings_timestamps() -> None:
    frames = encode(90, keyframes=(0, 30, 60), size=(320, 240))
    segments = segments_of(frames, [30, 60])
    for index, segment in enumerate(segments):
        with av.open(io.BytesIO(segment.data), "r") as container:
            (stream,) = container.streams.video
            assert container.format.name.startswith("matroska")
            decoded = list(container.decode(stream))
            pts = [f.pts for f in decoded if f.pts is not None]
        assert stream.codec_context.name == "vp8"
        assert len(decoded) == segment.frames == 30
        assert {(f.width, f.height) for f in decoded} == {(320, 240)}
        assert decoded[0].key_frame
        assert pts == sorted(set(pts))  # strictly increasing
        assert pts[0] == segment.start_ms == index * 1000  # the recording's clock, not 0
        assert (segment.width, segment.height) == (320, 240)
        assert segment.keyframes == (segment.start_ms,)
    # Continuous: each segment ends exactly where the next one starts.
    assert [s.end_ms for s in segments[:-1]] == [s.start_ms for s in segments[1:]]
    assert segments[-1].end_ms == 89 * 100 // 3 + 33


def test_the_frames_are_the_encoders_bytes_unchanged() -> None:
    frames = encode(20, keyframes=(0, 10))
    segment = mux(frames)
    with av.open(io.BytesIO(segment.data), "r") as container:
        packets = [bytes(p) for p in container.demux(video=0) if p.size]
    assert packets == [f.data for f in frames]
    assert segment.keyframes == (0, 333)


def test_a_segment_must_start_on_a_keyframe() -> None:
    frames = encode(3)
    muxer = SegmentMuxer()
    with pytest.raises(MuxError, match=r"^a segment starts with a VP8 keyframe$"):
        muxer.add(frames[1].data, 33, False)
    with pytest.raises(MuxError, match=r"^a segment starts with a VP8 keyframe$"):
        muxer.add(frames[1].data, 33, True)  # claimed, but the bytes are a delta frame
    assert muxer.empty


def test_timestamps_must_increase_and_a_finished_segment_takes_nothing() -> None:
    frames = encode(3)
    muxer = SegmentMuxer()
    muxer.add(frames[0].data, 100, True)
    with pytest.raises(MuxError, match=r"^frame timestamps must increase within a segment$"):
        muxer.add(frames[1].data, 100, False)
    muxer.add(frames[1].data, 133, False)
    segment = muxer.finish()
    assert (segment.start_ms, segment.end_ms, segment.frames) == (100, 166, 2)
    with pytest.raises(MuxError, match=r"^the segment is finished$"):
        muxer.add(frames[2].data, 166, False)
    with pytest.raises(MuxError, match=r"^an empty segment cannot be finished$"):
        SegmentMuxer().finish()


def test_keyframe_size_is_read_from_the_vp8_header() -> None:
    frames = encode(2, size=(640, 480))
    assert vp8_keyframe_size(frames[0].data) == (640, 480)
    assert vp8_keyframe_size(frames[1].data) is None
    assert vp8_keyframe_size(b"") is None
