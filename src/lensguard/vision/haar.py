"""Haar-cascade face detection (OpenCV's frontal-face cascade): slow, but always there."""

from __future__ import annotations

from pathlib import Path

import cv2

from lensguard.vision.errors import ModelMissing
from lensguard.vision.processor import Detection, Image


class HaarFaces:
    """OpenCV's ``CascadeClassifier``; ``score`` is the vote share n / (n + min_neighbors)."""

    def __init__(self, cascade: Path) -> None:
        self._cascade = cv2.CascadeClassifier(str(cascade))
        if self._cascade.empty():
            raise ModelMissing(f"cannot load Haar cascade {cascade}")

    def detect(
        self,
        image: Image,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 24,
        max_side: int = 0,
    ) -> list[Detection]:
        """Faces in ``image``; ``max_side`` > 0 first shrinks the frame to trade recall for time."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        h, w = gray.shape
        shrink = max_side / max(h, w) if 0 < max_side < max(h, w) else 1.0
        if shrink < 1.0:
            gray = cv2.resize(
                gray, (round(w * shrink), round(h * shrink)), interpolation=cv2.INTER_AREA
            )
        small_min = max(1, round(min_size * shrink))
        rects, votes = self._cascade.detectMultiScale2(
            gray,
            scaleFactor=scale_factor,
            minNeighbors=min_neighbors,
            minSize=(small_min, small_min),
        )
        found = []
        for (x, y, bw, bh), n in zip(rects, votes, strict=True):
            # Haar gives no probability; the share of agreeing windows is a monotone stand-in.
            score = float(n) / (float(n) + max(min_neighbors, 1))
            box = _unshrink((int(x), int(y), int(bw), int(bh)), shrink, w, h)
            found.append(Detection(box, "face", score))
        return found


def _unshrink(
    box: tuple[int, int, int, int], shrink: float, w: int, h: int
) -> tuple[int, int, int, int]:
    """A box found on the shrunk image, in the original frame's pixels (rounded outwards)."""
    if shrink == 1.0:
        return box
    x, y, bw, bh = box
    x1, y1 = int(x / shrink), int(y / shrink)
    x2, y2 = min(w, int((x + bw) / shrink + 1)), min(h, int((y + bh) / shrink + 1))
    return x1, y1, x2 - x1, y2 - y1
