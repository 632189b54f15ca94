"""BlazeFace short-range face detection (MediaPipe's model) run by OpenCV's DNN module.

The decoding follows MediaPipe's face_detection_short_range graph: SSD anchors over a
128 x 128 input (strides 8, 16, 16, 16; 2 and 6 anchors per cell), sigmoid scores
clipped at +-100, box offsets in input pixels, and weighted non-maximum suppression
at IoU 0.3. Frames are letterboxed to a square so faces keep their aspect ratio.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from lensguard.vision.errors import ModelMissing
from lensguard.vision.geometry import Floats, iou, letterbox, to_detection, unletterbox
from lensguard.vision.processor import Detection, Image

INPUT_SIZE = 128
STRIDES = (8, 16, 16, 16)
ANCHORS_PER_LAYER = 2
NUM_ANCHORS = 896
SCORE_CLIP = 100.0
NMS_IOU = 0.3
OUTPUTS = ("classificators", "regressors")
# Tiles overlap by a quarter of their side: a face cut by one seam is whole in a neighbour.
TILE_OVERLAP = 0.25


def ssd_anchors(size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> Floats:
    """Anchor centres (x, y), normalised to [0, 1], in the model's output order."""
    centres: list[Floats] = []
    i = 0
    while i < len(strides):
        # Consecutive layers with one stride share a grid: their anchors interleave per cell.
        stride = strides[i]
        per_cell = 0
        while i < len(strides) and strides[i] == stride:
            per_cell += ANCHORS_PER_LAYER
            i += 1
        cells = size // stride
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def weighted_nms(
    boxes: Floats, scores: Floats, threshold: float = NMS_IOU
) -> list[tuple[Floats, float]]:
    """MediaPipe's weighted NMS: overlapping boxes are averaged by score, not dropped."""
    order = np.argsort(-scores, kind="stable")
    kept: list[tuple[Floats, float]] = []
    while order.size:
        top = order[0]
        overlap = iou(boxes[top], boxes[order])
        group = order[overlap > threshold]
        weights = scores[group]
        merged = (boxes[group] * weights[:, None]).sum(axis=0) / weights.sum()
        kept.append((merged.astype(np.float32), float(scores[top])))
        order = order[overlap <= threshold]
    return kept


class BlazeFace:
    """BlazeFace short-range: fast; one pass finds faces wider than ~1/8 of the frame."""

    def __init__(self, model: Path) -> None:
        try:
            self._net = cv2.dnn.readNetFromTFLite(str(model))
        except cv2.error as exc:
            raise ModelMissing(f"cannot load BlazeFace model {model}: {exc}") from exc
        if tuple(self._net.getUnconnectedOutLayersNames()) != OUTPUTS:
            raise ModelMissing(f"{model} is not BlazeFace short-range (outputs differ)")
        self._anchors = ssd_anchors() * INPUT_SIZE

    def detect(self, image: Image, *, min_score: float, tile_rows: int = 0) -> list[Detection]:
        """Faces in ``image``; ``tile_rows`` > 0 also scans square tiles for smaller faces."""
        boxes, scores = self._infer(image, 0, 0)
        if tile_rows > 0:
            for x, y, tile in _tiles(image, tile_rows):
                b, s = self._infer(tile, x, y)
                boxes, scores = np.concatenate([boxes, b]), np.concatenate([scores, s])
        keep = scores >= min_score
        h, w = image.shape[:2]
        found = (
            to_detection(box, score, w, h, "face")
            for box, score in weighted_nms(boxes[keep], scores[keep])
        )
        return [d for d in found if d is not None]

    def _infer(self, image: Image, off_x: int, off_y: int) -> tuple[Floats, Floats]:
        """Every anchor's box (frame pixels, x1 y1 x2 y2) and score for one square pass."""
        square, scale, pad_x, pad_y = letterbox(image, INPUT_SIZE, INPUT_SIZE)
        # NCHW, RGB, [-1, 1]: what the model was trained on (NHWC crashes OpenCV).
        blob = cv2.dnn.blobFromImage(square, 1 / 127.5, (INPUT_SIZE, INPUT_SIZE), 127.5, True)
        self._net.setInput(blob)
        logits, raw = self._net.forward(OUTPUTS)
        # float64: exp(100) overflows float32 (harmless, but it warns).
        clipped = np.clip(logits[0, :, 0].astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
        scores = 1.0 / (1.0 + np.exp(-clipped))
        centre = raw[0, :, :2] + self._anchors
        half = raw[0, :, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        boxes = unletterbox(boxes.astype(np.float32), scale, pad_x, pad_y)
        boxes += np.array([off_x, off_y, off_x, off_y], np.float32)
        return boxes, scores.astype(np.float32)


def _tiles(image: Image, rows: int) -> list[tuple[int, int, Image]]:
    """Square tiles, ``rows`` of them down the frame, overlapping so a face on a seam is whole."""
    h, w = image.shape[:2]
    side = min(h, w, round(h / rows * (1 + TILE_OVERLAP)))
    step = side * (1 - TILE_OVERLAP)

    def starts(length: int) -> list[int]:
        n = 1 if length <= side else math.ceil((length - side) / step) + 1
        return [0] if n == 1 else [round(i * (length - side) / (n - 1)) for i in range(n)]

    return [(x, y, image[y : y + side, x : x + side]) for y in starts(h) for x in starts(w)]
