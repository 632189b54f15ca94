"""``motion_detect``: frame difference on a small grey thumbnail; no model weights.

Each frame is shrunk to a grey thumbnail ``width`` pixels wide (area filter, aspect
kept) and compared with the previous frame's thumbnail. Pixels that changed by more
than ``threshold`` grey levels are motion; when at least ``min_area`` of the
thumbnail moved, one detection labelled ``motion`` is added, boxing the changed
pixels (scaled back to the frame) with the changed fraction as its score. The first
frame, and a frame of another size than the last, only set the reference. The
processor is stateful (it holds one thumbnail), so it belongs to one stream's chain.
The frame itself is never changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from lensguard.vision.geometry import grey_thumbnail
from lensguard.vision.params import check_keys, get_float, get_int
from lensguard.vision.processor import Detection, Image, Result

MOTION_LABEL = "motion"
PARAMS = ("threshold", "min_area", "width")


class MotionDetect:
    """Adds a ``motion`` detection when enough of the picture changed since the last frame."""

    name = "motion_detect"

    def __init__(self, params: Mapping[str, Any]) -> None:
        check_keys(self.name, params, PARAMS)
        self._options(params)
        self._last: npt.NDArray[np.uint8] | None = None
        self._shape: tuple[int, int] | None = None

    def _options(self, params: Mapping[str, Any]) -> tuple[int, float, int]:
        # 25 grey levels is above VP8's noise on a still scene; 1 % of the thumbnail is
        # a person crossing a 640x480 frame at a few metres.
        threshold = get_int(self.name, params, "threshold", 25, lo=1, hi=254)
        min_area = get_float(self.name, params, "min_area", 0.01, lo=0.0001, hi=1.0)
        width = get_int(self.name, params, "width", 64, lo=8, hi=320)
        return threshold, min_area, width

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """Compare ``frame`` with the previous one; append a ``motion`` detection if it moved."""
        threshold, min_area, width = self._options(params)
        height, frame_width = frame.shape[:2]
        thumb = grey_thumbnail(frame, width)
        thumb_h, thumb_w = thumb.shape
        last, self._last = self._last, thumb
        shape, self._shape = self._shape, (height, frame_width)
        if last is None or shape != (height, frame_width) or last.shape != thumb.shape:
            return Result(frame, detections)
        moved = cv2.absdiff(thumb, last) > threshold
        fraction = float(np.count_nonzero(moved)) / moved.size
        if fraction < min_area:
            return Result(frame, detections)
        ys, xs = np.nonzero(moved)
        sx, sy = frame_width / thumb_w, height / thumb_h
        x1, y1 = math.floor(int(xs.min()) * sx), math.floor(int(ys.min()) * sy)
        x2 = min(frame_width, math.ceil((int(xs.max()) + 1) * sx))
        y2 = min(height, math.ceil((int(ys.max()) + 1) * sy))
        found = Detection((x1, y1, x2 - x1, y2 - y1), MOTION_LABEL, min(1.0, fraction))
        return Result(frame, [*detections, found])
