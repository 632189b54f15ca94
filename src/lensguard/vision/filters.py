"""Image processors: face pixelation and blur, whole-frame blur, grayscale and edges."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from lensguard.vision.errors import InvalidParams
from lensguard.vision.params import check_keys, get_float, get_int, get_labels
from lensguard.vision.processor import Box, Detection, Image, Result, as_image

FACE_LABELS = ("face",)


def padded(box: Box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """``box`` grown by ``margin`` x its size on every side, clipped: (x1, y1, x2, y2)."""
    x, y, w, h = box
    mx, my = math.ceil(w * margin), math.ceil(h * margin)
    return max(0, x - mx), max(0, y - my), min(width, x + w + mx), min(height, y + h + my)


def pixelate(region: Image, block: int) -> Image:
    """``region`` as ``block`` x ``block`` squares of its mean colour, aligned to its top-left."""
    h, w = region.shape[:2]
    cols, rows = math.ceil(w / block), math.ceil(h / block)
    small = cv2.resize(region, (cols, rows), interpolation=cv2.INTER_AREA)
    # Integer-factor nearest upscaling gives exact squares; the partial last row/column is cut.
    big = cv2.resize(small, (cols * block, rows * block), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(big[:h, :w])


def odd_kernel(where: str, params: Mapping[str, Any], default: int) -> int:
    """An odd Gaussian kernel size in [3, 255]."""
    size = get_int(where, params, "kernel", default, lo=0, hi=255)
    if size != 0 and (size < 3 or size % 2 == 0):
        raise InvalidParams(f"{where}: kernel must be 0 (auto) or odd and >= 3, got {size}")
    return size


class _FaceRegions(ABC):
    """Shared parameters of the processors that act on labelled boxes."""

    name = "face_regions"
    extra: tuple[str, ...] = ()

    def __init__(self, params: Mapping[str, Any]) -> None:
        check_keys(self.name, params, ("margin", "labels", *self.extra))
        self._regions_options(params)
        self.options(params)

    def _regions_options(self, params: Mapping[str, Any]) -> tuple[float, tuple[str, ...]]:
        # Detectors box the face from brows to chin; a margin also covers hair, ears and forehead.
        margin = get_float(self.name, params, "margin", 0.25, lo=0.0, hi=1.0)
        return margin, get_labels(self.name, params, "labels", FACE_LABELS)

    def options(self, params: Mapping[str, Any]) -> Any:
        """This processor's own parameters."""
        return None

    @abstractmethod
    def apply(self, region: Image, options: Any) -> Image:
        """The redacted version of ``region``."""

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """Redact every detection whose label is selected; the rest of the frame is untouched."""
        margin, labels = self._regions_options(params)
        options = self.options(params)
        height, width = frame.shape[:2]
        for detection in detections:
            if detection.label not in labels:
                continue
            x1, y1, x2, y2 = padded(detection.box, margin, width, height)
            if x2 > x1 and y2 > y1:
                frame[y1:y2, x1:x2] = self.apply(frame[y1:y2, x1:x2], options)
        return Result(frame, detections)


class PixelateFaces(_FaceRegions):
    """Pixelates detected faces; blocks grow with the face, at most ``max_blocks`` across."""

    name = "pixelate_faces"
    extra = ("block", "max_blocks")

    def options(self, params: Mapping[str, Any]) -> tuple[int, int]:
        """(block, max_blocks)."""
        block = get_int(self.name, params, "block", 16, lo=2, hi=512)
        # A fixed block leaves a close-up face with dozens of blocks: still recognisable.
        max_blocks = get_int(self.name, params, "max_blocks", 8, lo=1, hi=64)
        return block, max_blocks

    def apply(self, region: Image, options: tuple[int, int]) -> Image:
        """``region`` pixelated."""
        block, max_blocks = options
        side = max(region.shape[:2])
        return pixelate(region, max(block, math.ceil(side / max_blocks)))


class BlurFaces(_FaceRegions):
    """Gaussian-blurs detected faces; the kernel scales with the face unless ``kernel`` is set."""

    name = "blur_faces"
    extra = ("kernel",)

    def options(self, params: Mapping[str, Any]) -> int:
        """The kernel size (0: half the face's longer side)."""
        return odd_kernel(self.name, params, 0)

    def apply(self, region: Image, options: int) -> Image:
        """``region`` blurred."""
        kernel = options or (max(region.shape[:2]) // 2) | 1
        return as_image(cv2.GaussianBlur(region, (kernel, kernel), 0))


class Blur:
    """Gaussian-blurs the whole frame."""

    name = "blur"

    def __init__(self, params: Mapping[str, Any]) -> None:
        check_keys(self.name, params, ("kernel",))
        odd_kernel(self.name, params, 31)

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """The frame blurred with an odd ``kernel`` (default 31)."""
        kernel = odd_kernel(self.name, params, 31) or 31
        return Result(as_image(cv2.GaussianBlur(frame, (kernel, kernel), 0)), detections)


class Grayscale:
    """Drops colour; the frame stays three-channel BGR so later steps see the same format."""

    name = "grayscale"

    def __init__(self, params: Mapping[str, Any]) -> None:
        check_keys(self.name, params, ())

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """The frame in gray."""
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        return Result(as_image(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)), detections)


class Edges:
    """Canny edges, white on black, as three-channel BGR."""

    name = "edges"

    def __init__(self, params: Mapping[str, Any]) -> None:
        check_keys(self.name, params, ("low", "high"))
        self._thresholds(params)

    def _thresholds(self, params: Mapping[str, Any]) -> tuple[int, int]:
        low = get_int(self.name, params, "low", 100, lo=0, hi=1000)
        high = get_int(self.name, params, "high", 200, lo=0, hi=1000)
        return low, high

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """The frame's Canny edges (thresholds ``low`` and ``high``)."""
        low, high = self._thresholds(params)
        edges = cv2.Canny(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), low, high)
        return Result(as_image(cv2.cvtColor(edges, cv2.COLOR_GRAY2BGR)), detections)
