"""The clip builder: segments remuxed unchanged into one WebM of a range, decoded by PyAV."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import av
import pytest

from lensguard.recordings.clip import Clip, ClipError, ClipSource, build_clip
from lensguard.recordings.muxer import SegmentMuxer
from tests.recordings.vp8 import Encoded, encode

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def segment(frames: Sequence[Encoded], *, base_ms: int, end_ms: int) -> bytes:
    """Frames muxed as the recorder does, on a media timeline starting at ``base_ms``."""
    muxer = SegmentMuxer()
    for frame in frames:
        muxer.add(frame.data, base_ms + frame.pts // 90, frame.keyframe)
    return muxer.finish(end_ms).data


def recording(
    *, keyframes: Sequence[int] = (0, 30, 60), gap_ms: int = 0
) -> tuple[list[Encoded], list[ClipSource]]:
    """90 frames (3 s at 30 fps) as three 1 s segments; ``gap_ms`` before the third."""
    frames = encode(90, keyframes=keyframes)
    sources = []
    for index in range(3):
        part = frames[index * 30 : (index + 1) * 30]
        shift = gap_ms if index == 2 else 0
        media_base = 7_000 + shift  # the recording's media clock is not the wall clock
        data = segment(part, base_ms=media_base, end_ms=media_base + (index + 1) * 1000)
        sources.append(ClipSource(at(index * 1000 + shift), data))
    return frames, sources


def decoded(clip: Clip) -> tuple[list[int], list[bool], list[bytes]]:
    with av.open(io.BytesIO(clip.data), "r") as container:
        (stream,) = container.streams.video
        assert stream.codec_context.name == "vp8"
        packets = [p for p in container.demux(stream) if p.size]
        raw = [bytes(p) for p in packets]
        pts = [int(p.pts) for p in packets if p.pts is not None]
    with av.open(io.BytesIO(clip.data), "r") as container:
        pictures = list(container.decode(video=0))
    assert len(pictures) == len(raw)
    return pts, [pictures[0].key_frame], raw


def test_a_whole_range_is_every_frame_unchanged_from_zero() -> None:
    frames, sources = recording()
    clip = build_clip(sources, at(0), at(3000))
    pts, first_key, raw = decoded(clip)
    assert raw == [f.data for f in frames]  # remuxed, never re-encoded
    assert first_key == [True]
    assert pts[0] == 0 and pts == sorted(set(pts))
    assert pts[30] == 1000 and pts[60] == 2000  # continuous across segments
    assert (clip.frames, clip.segments, clip.start, clip.end) == (90, 3, at(0), at(3000))
    assert clip.duration_ms == 3000
    assert (clip.width, clip.height) == (320, 240)


def test_the_clip_starts_at_the_keyframe_at_or_before_the_start() -> None:
    frames, sources = recording(keyframes=(0, 30, 45, 60))
    clip = build_clip(sources, at(1600), at(2500))
    pts, first_key, raw = decoded(clip)
    # Frame 45 (1.5 s) is the last keyframe at or before 1.6 s; frames from 2.5 s are out.
    assert raw == [f.data for f in frames[45:75]]
    assert first_key == [True]
    assert pts[0] == 0 and pts[-1] == 2466 - 1500  # frame 74 at 2466 ms, from the keyframe
    assert (clip.start, clip.end, clip.frames, clip.segments) == (at(1500), at(2500), 30, 2)

    # Without a keyframe inside the segment, the clip starts where the segment does.
    frames, sources = recording()
    clip = build_clip(sources, at(1600), at(2500))
    assert decoded(clip)[2] == [f.data for f in frames[30:75]]
    assert clip.start == at(1000)


def test_a_gap_stays_a_gap_of_the_same_length() -> None:
    frames, sources = recording(gap_ms=5000)
    clip = build_clip(sources, at(0), at(9000))
    pts, _, raw = decoded(clip)
    assert raw == [f.data for f in frames]
    assert pts[59] < 2000 and pts[60] == 7000  # the third segment 5 s after the second ended
    assert clip.end == at(8000)
    # A range inside the gap has nothing to show.
    with pytest.raises(ClipError, match=r"^no recorded frames in the range$"):
        build_clip(sources[:2], at(4000), at(5000))


def test_the_same_segments_give_the_same_bytes() -> None:
    _, sources = recording()
    assert (
        build_clip(sources, at(500), at(2500)).data == build_clip(sources, at(500), at(2500)).data
    )


def test_bad_input_is_refused_with_a_clear_error() -> None:
    _, sources = recording()
    with pytest.raises(ClipError, match=r"^no recorded segments in the range$"):
        build_clip([], at(0), at(1000))
    with pytest.raises(ClipError, match=r"^a clip ends after it starts$"):
        build_clip(sources, at(1000), at(1000))
    with pytest.raises(ClipError, match=r"^clip times must be timezone-aware$"):
        build_clip(sources, datetime(2026, 12, 4), at(1000))
    with pytest.raises(ClipError, match=r"^a segment is not a readable WebM file$"):
        build_clip([ClipSource(at(0), b"not a webm file at all" * 10)], at(0), at(1000))
    with pytest.raises(ClipError, match=r"^segments overlap in time$"):
        build_clip([sources[0], ClipSource(at(500), sources[1].data)], at(0), at(3000))
