"""BlazeFace short-range face detection (MediaPipe's model) run by OpenCV's DNN module.

The decoding follows MediaPipe's face_detection_short_range graph: SSD anchors
(strides 8, 16, 16, 16; 2 and 6 anchors per cell), sigmoid scores clipped at +-100,
box offsets in input pixels, and weighted non-maximum suppression at IoU 0.3.

The network is fully convolutional, so instead of cutting the frame into 128 x 128
squares it is fed the whole frame at each scale it is searched at: the longer side at
128 px (close-ups), and with ``tile_rows`` the scale at which a tile, ``tile_rows`` of
them down the frame, would be 128 px. That one pass scores every anchor a grid of
overlapping tiles would, without seams, and costs the frame's area instead of the
tiles' (which overlap). The heads' outputs are read before the graph's fixed-size
reshapes, and the anchors are laid over whatever grid the input gives.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from lensguard.vision.errors import ModelMissing
from lensguard.vision.geometry import Floats, iou, shrink, to_detection
from lensguard.vision.processor import Detection, Image, as_image

INPUT_SIZE = 128
STRIDES = (8, 16, 16, 16)
ANCHORS_PER_LAYER = 2
NUM_ANCHORS = 896
SCORE_CLIP = 100.0
NMS_IOU = 0.3
OUTPUTS = ("classificators", "regressors")
# The heads' convolutions (scores and boxes at strides 8 and 16), read before the
# graph's fixed-size reshapes.
HEADS = ("classificator_8", "classificator_16", "regressor_8", "regressor_16")
# Inputs are padded to a multiple of the coarsest stride so every grid is whole.
MULTIPLE = 16
# The tile scale keeps the quarter overlap tiles used to have: the same faces are big
# enough at it, and a frame of tile_rows=1 is searched at 128 px on its short side.
TILE_OVERLAP = 0.25


def _grid_anchors(height: int, width: int, strides: tuple[int, ...]) -> Floats:
    """Anchor centres (x, y) in input pixels, in the model's output order."""
    centres: list[Floats] = []
    i = 0
    while i < len(strides):
        # Consecutive layers with one stride share a grid: their anchors interleave per cell.
        stride = strides[i]
        per_cell = 0
        while i < len(strides) and strides[i] == stride:
            per_cell += ANCHORS_PER_LAYER
            i += 1
        xs_1d = (np.arange(width // stride, dtype=np.float32) + 0.5) * stride
        ys_1d = (np.arange(height // stride, dtype=np.float32) + 0.5) * stride
        ys, xs = np.meshgrid(ys_1d, xs_1d, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def ssd_anchors(size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> Floats:
    """Anchor centres (x, y), normalised to [0, 1], in the model's output order."""
    normalised: Floats = _grid_anchors(size, size, strides) / np.float32(size)
    return normalised


@functools.lru_cache(maxsize=8)
def anchor_grid(height: int, width: int) -> Floats:
    """Anchor centres in pixels for a ``height`` x ``width`` input (read-only, cached)."""
    anchors = _grid_anchors(height, width, STRIDES)
    anchors.flags.writeable = False
    return anchors


def tile_side(height: int, width: int, rows: int) -> int:
    """The side of the square a tile would have, ``rows`` of them down the frame."""
    return min(height, width, round(height / rows * (1 + TILE_OVERLAP)))


@dataclass(frozen=True, slots=True)
class Pass:
    """One forward: the frame scaled to ``size``, placed at ``offset`` on a ``canvas``."""

    size: tuple[int, int]
    canvas: tuple[int, int]
    offset: tuple[int, int]


def plan_passes(height: int, width: int, tile_rows: int) -> list[Pass]:
    """The passes ``detect`` runs on a frame, the larger (tile scale) first."""

    def scaled(scale: float) -> tuple[int, int]:
        return max(1, round(width * scale)), max(1, round(height * scale))

    # The whole frame letterboxed to 128 x 128, exactly as MediaPipe feeds it: close-ups.
    w, h = scaled(INPUT_SIZE / max(height, width))
    passes = [
        Pass((w, h), (INPUT_SIZE, INPUT_SIZE), ((INPUT_SIZE - w) // 2, (INPUT_SIZE - h) // 2))
    ]
    if tile_rows > 0:
        w, h = scaled(INPUT_SIZE / tile_side(height, width, tile_rows))
        if w > INPUT_SIZE or h > INPUT_SIZE:
            passes.insert(0, Pass((w, h), (_whole(w), _whole(h)), (0, 0)))
    return passes


def _whole(side: int) -> int:
    return -(-side // MULTIPLE) * MULTIPLE


def sigmoid_scores(logits: Floats) -> Floats:
    """Scores in [0, 1] from logits clipped to +-SCORE_CLIP (as MediaPipe does)."""
    # float64: exp(100) overflows float32 (harmless, but it warns); ~2,000 values a pass.
    clipped = np.clip(logits.astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    scores: Floats = (1.0 / (1.0 + np.exp(-clipped))).astype(np.float32)
    return scores


def weighted_nms(
    boxes: Floats, scores: Floats, threshold: float = NMS_IOU
) -> list[tuple[Floats, float]]:
    """MediaPipe's weighted NMS: overlapping boxes are averaged by score, not dropped."""
    order = np.argsort(-scores, kind="stable")
    kept: list[tuple[Floats, float]] = []
    while order.size:
        top = order[0]
        # The top box always joins its own group and leaves the queue: a degenerate box
        # (no area, or NaN) overlaps nothing, not even itself, and must not loop forever.
        overlap = iou(boxes[top], boxes[order[1:]])
        group = np.concatenate([order[:1], order[1:][overlap > threshold]])
        weights = scores[group].astype(np.float64)
        total = weights.sum()
        merged = (boxes[group] * weights[:, None]).sum(axis=0) / total if total > 0 else boxes[top]
        kept.append((merged.astype(np.float32), float(scores[top])))
        order = order[1:][~(overlap > threshold)]
    return kept


class BlazeFace:
    """BlazeFace short-range: fast; one pass finds faces wider than ~1/8 of the frame."""

    def __init__(self, model: Path) -> None:
        # One network per pass: OpenCV re-plans a network whenever its input shape
        # changes (~2.5 ms), so each pass keeps its own and its shape stays put.
        self._tile_net, self._whole_net = _load(model), _load(model)

    def detect(self, image: Image, *, min_score: float, tile_rows: int = 0) -> list[Detection]:
        """Faces in ``image``; ``tile_rows`` > 0 also searches it at tile scale (smaller faces)."""
        h, w = image.shape[:2]
        *tiled, whole = plan_passes(h, w, tile_rows)

        def whole_pass() -> tuple[Floats, Floats]:
            # Resized straight from the frame: halving first blurs a little more and
            # finds a few faces fewer at the limit.
            return _infer(self._whole_net, whole, _resize(image, whole.size), (w, h), min_score)

        found = []
        if tiled:
            # The two passes are independent: the whole-frame one runs on a free core if
            # there is one (OpenCV releases the GIL), the tile-scale one here.
            later = beside(whole_pass)
            (small,) = shrink(image, [tiled[0].size])
            found.append(_infer(self._tile_net, tiled[0], small, (w, h), min_score))
            found.append(later())
        else:
            found.append(whole_pass())
        boxes = np.concatenate([b for b, _ in found])
        scores = np.concatenate([s for _, s in found])
        faces = (to_detection(b, s, w, h, "face") for b, s in weighted_nms(boxes, scores))
        return [d for d in faces if d is not None]


T = TypeVar("T")


class Helpers:
    """Threads shared by every detector in the process, one per core but one.

    Work goes to a helper only when one is idle, so busy cores mean passes run one after
    the other, never a queue. A forked child starts with fresh ones (threads do not
    survive a fork).
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.reset()

    def reset(self) -> None:
        """Forget the threads (after a fork)."""
        self.idle = threading.BoundedSemaphore(self.count)
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def beside(self, work: Callable[[], T]) -> Callable[[], T]:
        """Start ``work`` on an idle helper, or run it now if none is idle.

        Returns a function that gives its result (or raises its exception).
        """
        if not self.idle.acquire(blocking=False):
            result = work()
            return lambda: result
        idle = self.idle

        def run() -> T:
            try:
                return work()
            finally:
                # Before the result is handed back: the caller's next pass finds it idle.
                idle.release()

        try:
            with self._lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        self.count, thread_name_prefix="lensguard-blazeface"
                    )
                future = self._pool.submit(run)
        except BaseException:
            idle.release()
            raise
        return future.result


HELPERS = Helpers(max(1, (os.cpu_count() or 2) - 1))
os.register_at_fork(after_in_child=HELPERS.reset)
beside = HELPERS.beside


def _resize(image: Image, size: tuple[int, int]) -> Image:
    # INTER_AREA averages what it drops; nearer interpolations alias and cost detections.
    return as_image(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def _load(model: Path) -> cv2.dnn.Net:
    try:
        net = cv2.dnn.readNetFromTFLite(str(model))
    except cv2.error as exc:
        raise ModelMissing(f"cannot load BlazeFace model {model}: {exc}") from exc
    layers = set(net.getLayerNames())
    if tuple(net.getUnconnectedOutLayersNames()) != OUTPUTS or not layers.issuperset(HEADS):
        raise ModelMissing(f"{model} is not BlazeFace short-range (outputs differ)")
    return net


def input_blob(image: Image, p: Pass) -> npt.NDArray[np.float32]:
    """NCHW float32 RGB in [-1, 1] (what the model was trained on) on a black canvas."""
    (w, h), (cw, ch), (x, y) = p.size, p.canvas, p.offset
    blob = np.full((1, 3, ch, cw), -1.0, np.float32)
    blob[:, :, y : y + h, x : x + w] = cv2.dnn.blobFromImage(
        image, 1 / 127.5, (w, h), (127.5, 127.5, 127.5), True
    )
    return blob


def head_outputs(net: cv2.dnn.Net, blob: npt.NDArray[np.float32]) -> tuple[Floats, Floats]:
    """Every anchor's logit and box (dx, dy, w, h in input pixels), in the model's order."""
    net.setInput(blob)
    scores8, scores16, boxes8, boxes16 = (np.asarray(o[0], np.float32) for o in net.forward(HEADS))
    # C x H x W -> per cell, its anchors in turn (MediaPipe's order); 16 numbers per box.
    logits = np.concatenate(
        [scores8.transpose(1, 2, 0).ravel(), scores16.transpose(1, 2, 0).ravel()]
    )
    raw = np.concatenate(
        [boxes8.transpose(1, 2, 0).reshape(-1, 16), boxes16.transpose(1, 2, 0).reshape(-1, 16)]
    )
    return logits, raw[:, :4]


def _infer(
    net: cv2.dnn.Net, p: Pass, image: Image, frame: tuple[int, int], min_score: float
) -> tuple[Floats, Floats]:
    """Boxes (frame pixels, x1 y1 x2 y2) and scores of the anchors at or over ``min_score``."""
    logits, raw = head_outputs(net, input_blob(image, p))
    scores = sigmoid_scores(logits)
    keep = np.flatnonzero(scores >= min_score)
    offset = np.array(p.offset, np.float32)
    centre = raw[keep, :2] + anchor_grid(p.canvas[1], p.canvas[0])[keep] - offset
    half = raw[keep, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    to_x, to_y = frame[0] / p.size[0], frame[1] / p.size[1]
    boxes *= np.array([to_x, to_y, to_x, to_y], np.float32)
    return boxes.astype(np.float32), scores[keep]
