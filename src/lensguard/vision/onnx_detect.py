"""``onnx_detect``: an operator-supplied ONNX detector run with onnxruntime on the CPU.

The model must take one float32 input of static shape [1, 3, H, W] (RGB scaled to
[0, 1], letterboxed with black) and give as its first output [1, N, 6] or [N, 6]
rows of (x1, y1, x2, y2, score, class_id) in input pixels. Rows under ``min_score``
are dropped, the rest go through non-maximum suppression at ``iou``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lensguard.vision.errors import InvalidParams, ModelMissing
from lensguard.vision.geometry import letterbox, to_detection, unletterbox
from lensguard.vision.params import check_keys, get_float, get_int, get_labels, get_str
from lensguard.vision.processor import Detection, Image, Result

PARAMS = ("model", "min_score", "iou", "labels", "max_detections")
MAX_MODEL_BYTES = 512 * 1024 * 1024


def resolve_model(onnx_dir: Path | None, name: str) -> Path:
    """The model file ``name`` inside the configured ``onnx_dir``; nothing outside it."""
    if onnx_dir is None:
        raise InvalidParams("onnx_detect: no ONNX model directory is configured on this server")
    # Names only: a viewer choosing a chain must not make the server open arbitrary paths.
    if Path(name).name != name or name.startswith(".") or not name.endswith(".onnx"):
        raise InvalidParams(f"onnx_detect: model must be a file name ending in .onnx, got {name!r}")
    root = onnx_dir.resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise ModelMissing(f"onnx_detect: model {name!r} not found in {root}")
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise InvalidParams(f"onnx_detect: model {name!r} is larger than {MAX_MODEL_BYTES} bytes")
    return path


def _session(path: Path) -> Any:
    """An onnxruntime session pinned to one CPU thread (the relay runs many streams)."""
    # Imported here: only this processor needs it, it is slow to import and ships no types.
    ort: Any = importlib.import_module("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelMissing(f"onnx_detect: cannot load {path.name}: {exc}") from exc


class OnnxDetect:
    """Adds detections from an ONNX model (see the module docstring for its contract)."""

    name = "onnx_detect"

    def __init__(self, params: Mapping[str, Any], *, onnx_dir: Path | None = None) -> None:
        check_keys(self.name, params, PARAMS)
        self._options(params)
        self._session = _session(resolve_model(onnx_dir, get_str(self.name, params, "model")))
        inputs = self._session.get_inputs()
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        if (
            len(shape) != 4
            or inputs[0].type != "tensor(float)"
            or shape[:2] != [1, 3]
            or not all(isinstance(d, int) and d > 0 for d in shape[2:])
        ):
            found = [(i.name, i.type, i.shape) for i in inputs]
            raise InvalidParams(
                f"onnx_detect: need one float input [1, 3, H, W]; model has {found}"
            )
        self._input = inputs[0].name
        self._height, self._width = int(shape[2]), int(shape[3])

    def _options(self, params: Mapping[str, Any]) -> tuple[float, float, tuple[str, ...], int]:
        return (
            get_float(self.name, params, "min_score", 0.5, lo=0.0, hi=1.0),
            get_float(self.name, params, "iou", 0.45, lo=0.0, hi=1.0),
            get_labels(self.name, params, "labels", ()),
            get_int(self.name, params, "max_detections", 100, lo=1, hi=1000),
        )

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """Append the model's detections above ``min_score``."""
        min_score, iou, labels, limit = self._options(params)
        canvas, scale, pad_x, pad_y = letterbox(frame, self._width, self._height)
        blob = cv2.dnn.blobFromImage(canvas, 1 / 255.0, (self._width, self._height), 0, True)
        (out, *_) = self._session.run(None, {self._input: blob})
        rows = np.asarray(out, np.float32)
        if rows.ndim not in (2, 3) or rows.shape[-1] != 6:
            raise ValueError(f"output shape {rows.shape}, expected [1, N, 6] or [N, 6]")
        rows = rows.reshape(-1, 6)
        rows = rows[np.isfinite(rows).all(axis=1) & (rows[:, 4] >= min_score)]
        boxes = unletterbox(rows[:, :4], scale, pad_x, pad_y)
        xywh = [(float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])) for b in boxes]
        keep = cv2.dnn.NMSBoxes(xywh, rows[:, 4].tolist(), min_score, iou, top_k=limit)
        h, w = frame.shape[:2]
        found = []
        for i in np.asarray(keep, np.int64).ravel()[:limit]:
            cls = int(rows[i, 5])
            label = labels[cls] if 0 <= cls < len(labels) else f"class_{cls}"
            detection = to_detection(boxes[i], float(rows[i, 4]), w, h, label)
            if detection is not None:
                found.append(detection)
        return Result(frame, [*detections, *found])
