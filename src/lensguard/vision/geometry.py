"""Box and image geometry shared by the detectors: shrinking, letterboxing, IoU, pixel boxes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from lensguard.vision.processor import Detection, Image, as_image

Floats: TypeAlias = npt.NDArray[np.float32]


def grey_thumbnail(image: Image, width: int) -> Image:
    """``image`` in grey, area-averaged down to ``width`` pixels wide (aspect kept, never up)."""
    height, frame_width = image.shape[:2]
    thumb_w = min(width, frame_width)
    thumb_h = max(1, round(height * thumb_w / frame_width))
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return as_image(cv2.resize(grey, (thumb_w, thumb_h), interpolation=cv2.INTER_AREA))


def letterbox(image: Image, width: int, height: int) -> tuple[Image, float, int, int]:
    """``image`` fitted into a black canvas: (canvas, scale, pad_x, pad_y)."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    # INTER_AREA averages what it drops; nearer interpolations alias and cost detections.
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    pad_x, pad_y = (width - nw) // 2, (height - nh) // 2
    canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = small
    return canvas, scale, pad_x, pad_y


def shrink(image: Image, sizes: Sequence[tuple[int, int]]) -> list[Image]:
    """``image`` area-averaged down to each (width, height) in ``sizes``.

    OpenCV's area interpolation is fast only for whole factors, so the frame is first
    halved (exact 2 x 2 averages) while every target still fits in the half; each target
    is then area-averaged from that much smaller image.
    """
    if not sizes:
        return []
    largest_w = max(w for w, _ in sizes)
    largest_h = max(h for _, h in sizes)
    source = image
    while True:
        h, w = source.shape[:2]
        if h % 2 or w % 2 or w // 2 < largest_w or h // 2 < largest_h:
            break
        source = as_image(cv2.resize(source, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
    # INTER_AREA averages what it drops; nearer interpolations alias and cost detections.
    return [
        source
        if (w, h) == (source.shape[1], source.shape[0])
        else as_image(cv2.resize(source, (w, h), interpolation=cv2.INTER_AREA))
        for w, h in sizes
    ]


def unletterbox(boxes: Floats, scale: float, pad_x: int, pad_y: int) -> Floats:
    """(x1, y1, x2, y2) boxes on the letterboxed canvas, in the original image's pixels."""
    pad = np.array([pad_x, pad_y, pad_x, pad_y], np.float32)
    out: Floats = ((boxes - pad) / scale).astype(np.float32)
    return out


def iou(box: Floats, boxes: Floats) -> Floats:
    """Intersection over union of one (x1, y1, x2, y2) box with each of ``boxes``."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = np.maximum(area + areas - inter, 1e-9)
    ratio: Floats = (inter / union).astype(np.float32)
    return ratio


def to_detection(
    box: Floats, score: float, width: int, height: int, label: str
) -> Detection | None:
    """A pixel ``Detection`` from an (x1, y1, x2, y2) float box, clipped to the frame."""
    x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x2, y2 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    if x2 <= x1 or y2 <= y1:
        return None
    return Detection((x1, y1, x2 - x1, y2 - y1), label, score)
