"""Face detection at a lower cadence, with the faces tracked between detections.

``Cadence`` wraps one detector step of a chain. With ``every`` = N the detector runs on
one processed frame in N; on the frames between, the boxes it found last stand in for
it: each moved along its face's velocity (matched against the detection before) and
joined with where the face was last seen, then grown by ``grow`` of its size on every
side for every frame carried. Redaction draws over the carried boxes like over found
ones, so a face that was found stays covered while it moves.

Detection runs at once, whatever the cadence, on the first frame, on a frame of
another size, after a failed detection, when more stream time than ``MAX_CARRY_TICKS``
passed since the last one (the stage skipped frames, the stream stalled), and when the
picture changed too much for carried boxes to mean anything: more than
``scene_change`` of a grey thumbnail changed by more than ``CHANGE_LEVELS`` since the
last detection (a cut, a fast pan, the camera moved).

What it trades (docs/redaction.md, *Detection cadence*): a face that comes into view
between two detections is found by the next one, up to N - 1 frames later (66 ms at
N = 3 and 30 fps). N = 1, the default, searches every frame and wraps nothing.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from lensguard.vision.geometry import grey_thumbnail
from lensguard.vision.processor import Chain, Detection, Image, Processor, Result, Step

THUMB_WIDTH = 64
CHANGE_LEVELS = 25
# 90 kHz RTP ticks: one frame at 30 fps, and the longest boxes may be carried (200 ms).
FRAME_TICKS = 3_000
MAX_CARRY_TICKS = 18_000
MAX_EVERY = MAX_CARRY_TICKS // FRAME_TICKS


@dataclass(frozen=True, slots=True)
class Track:
    """A face as last found, and how far it moved per frame between the last two finds."""

    detection: Detection
    vx: float = 0.0
    vy: float = 0.0


@dataclass
class CadenceStats:
    """What the wrapper did: frames detected (``forced`` of them out of turn) and carried."""

    detected: int = 0
    forced: int = 0
    carried: int = 0


def _centre(d: Detection) -> tuple[float, float]:
    x, y, w, h = d.box
    return x + w / 2.0, y + h / 2.0


def match(found: list[Detection], before: list[Detection], frames: float) -> list[Track]:
    """Each new find with its velocity from the nearest earlier find of its label.

    An earlier find counts as the same face when its centre is within the new box's
    longer side; otherwise the face is new and has no velocity.
    """
    tracks = []
    for d in found:
        cx, cy = _centre(d)
        reach = float(max(d.box[2], d.box[3]))
        best: tuple[float, float, float] | None = None
        for old in before:
            if old.label != d.label:
                continue
            ox, oy = _centre(old)
            distance = math.hypot(cx - ox, cy - oy)
            if distance <= reach and (best is None or distance < best[0]):
                best = (distance, cx - ox, cy - oy)
        if best is None or frames <= 0:
            tracks.append(Track(d))
        else:
            tracks.append(Track(d, best[1] / frames, best[2] / frames))
    return tracks


def carried(track: Track, frames: float, grow: float, size: tuple[int, int]) -> Detection:
    """``track``'s box ``frames`` after it was found: last seen joined with predicted, grown."""
    x, y, w, h = track.detection.box
    dx, dy = track.vx * frames, track.vy * frames
    x1, y1 = min(x, x + dx), min(y, y + dy)
    x2, y2 = max(x + w, x + w + dx), max(y + h, y + h + dy)
    pad_x, pad_y = w * grow * frames, h * grow * frames
    width, height = size
    left, top = max(0, math.floor(x1 - pad_x)), max(0, math.floor(y1 - pad_y))
    right, bottom = min(width, math.ceil(x2 + pad_x)), min(height, math.ceil(y2 + pad_y))
    box = (left, top, max(1, right - left), max(1, bottom - top))
    return Detection(box, track.detection.label, track.detection.score)


class Cadence:
    """A detector run on one frame in ``every``, its faces tracked on the frames between.

    Stateful, like every processor here: one per stream's chain, on one thread.
    """

    def __init__(
        self, inner: Processor, *, every: int, grow: float = 0.15, scene_change: float = 0.2
    ) -> None:
        if not 1 <= every <= MAX_EVERY:
            raise ValueError(f"every must be in [1, {MAX_EVERY}]")
        self.inner = inner
        self.name = inner.name
        self.every = every
        self.grow = grow
        self.scene_change = scene_change
        self.stats = CadenceStats()
        self._tracks: list[Track] = []
        self._found: list[Detection] = []
        self._since: int | None = None  # processed frames since the last detection
        self._size: tuple[int, int] | None = None
        self._thumb: Image | None = None
        self._pts: int | None = None

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """Detect (when due) or carry the last faces over ``frame``."""
        return self.process_at(frame, detections, params, pts=None)

    def process_at(
        self,
        frame: Image,
        detections: list[Detection],
        params: Mapping[str, Any],
        *,
        pts: int | None,
    ) -> Result:
        """``process`` with the frame's timestamp (90 kHz), which bounds how long boxes carry."""
        size = (frame.shape[1], frame.shape[0])
        thumb = grey_thumbnail(frame, THUMB_WIDTH)
        elapsed = self._elapsed(pts)
        reason = self._due(size, thumb, elapsed)
        if reason is None:
            self._since = (self._since or 0) + 1
            self.stats.carried += 1
            stand_in = [carried(t, elapsed, self.grow, size) for t in self._tracks]
            return Result(frame, [*detections, *stand_in])
        result = self.inner.process(frame, [], params)
        found = list(result.detections)
        same_place = self._size == size and self._since is not None
        self._tracks = match(found, self._found if same_place else [], elapsed)
        self._found, self._since, self._size, self._thumb = found, 0, size, thumb
        self._pts = pts
        self.stats.detected += 1
        self.stats.forced += reason != "due"
        return Result(result.frame, [*detections, *found])

    def _elapsed(self, pts: int | None) -> float:
        """Frames since the last detection: counted, or in stream time where that says more."""
        counted = float((self._since or 0) + 1)
        if pts is None or self._pts is None or pts <= self._pts:
            return counted
        return max(counted, (pts - self._pts) / FRAME_TICKS)

    def _due(self, size: tuple[int, int], thumb: Image, elapsed: float) -> str | None:
        """Why this frame must be searched (``due`` in turn, else a forcing reason), or None."""
        if self._since is None or self._thumb is None or self._size != size:
            return "first"
        if self._since + 1 >= self.every:
            return "due"
        if elapsed * FRAME_TICKS > MAX_CARRY_TICKS:
            return "stale"
        changed = cv2.absdiff(thumb, self._thumb) > CHANGE_LEVELS
        if np.count_nonzero(changed) > self.scene_change * changed.size:
            return "changed"
        return None


def with_cadence(
    chain: Chain,
    detectors: Collection[str],
    *,
    every: int,
    grow: float = 0.15,
    scene_change: float = 0.2,
) -> Chain:
    """``chain`` with each step named in ``detectors`` under a ``Cadence``; as is at 1."""
    if every <= 1:
        return chain
    steps = [
        Step(Cadence(s.processor, every=every, grow=grow, scene_change=scene_change), s.params)
        if s.processor.name in detectors
        else s
        for s in chain.steps
    ]
    return Chain(steps)
