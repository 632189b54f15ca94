"""The face-detection processors: ``face_detect`` (BlazeFace or Haar) and ``face_detect_haar``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lensguard.logs import get_logger
from lensguard.vision.blazeface import BlazeFace
from lensguard.vision.errors import ModelMissing
from lensguard.vision.haar import HaarFaces
from lensguard.vision.models import blazeface_path, haar_path
from lensguard.vision.params import check_keys, get_choice, get_float, get_int
from lensguard.vision.processor import Detection, Image, Result

log = get_logger("lensguard.vision.faces")

DETECTORS = ("auto", "blazeface", "haar")
HAAR_PARAMS = ("scale_factor", "min_neighbors", "min_size", "max_side")
BLAZEFACE_PARAMS = ("min_score", "tile_rows")


def _haar_options(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Haar's tuning knobs; the defaults are OpenCV's usual ``detectMultiScale`` call."""
    return {
        "scale_factor": get_float(where, params, "scale_factor", 1.1, lo=1.01, hi=2.0),
        "min_neighbors": get_int(where, params, "min_neighbors", 5, lo=0, hi=50),
        "min_size": get_int(where, params, "min_size", 24, lo=8, hi=4096),
        "max_side": get_int(where, params, "max_side", 0, lo=0, hi=8192),
    }


class FaceDetectHaar:
    """Adds Haar-cascade face detections (the slow baseline that needs no extracted model)."""

    name = "face_detect_haar"

    def __init__(self, params: Mapping[str, Any]) -> None:
        check_keys(self.name, params, HAAR_PARAMS)
        _haar_options(self.name, params)
        self._haar = HaarFaces(haar_path())

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """Append the faces Haar finds in ``frame``."""
        found = self._haar.detect(frame, **_haar_options(self.name, params))
        return Result(frame, [*detections, *found])


class FaceDetect:
    """Adds face detections: BlazeFace when its model is installed, else Haar (``auto``)."""

    name = "face_detect"

    def __init__(self, params: Mapping[str, Any], *, models_dir: Path | None = None) -> None:
        check_keys(self.name, params, ("detector", *BLAZEFACE_PARAMS, *HAAR_PARAMS))
        choice = get_choice(self.name, params, "detector", "auto", DETECTORS)
        self._detector: BlazeFace | HaarFaces
        if choice == "haar":
            self._detector = HaarFaces(haar_path())
        elif choice == "blazeface":
            self._detector = BlazeFace(blazeface_path(models_dir))
        else:
            try:
                self._detector = BlazeFace(blazeface_path(models_dir))
            except ModelMissing as exc:
                # Redaction still works without the extracted model, only slower and worse.
                log.warning("vision.blazeface_unavailable", fallback="haar", reason=str(exc))
                self._detector = HaarFaces(haar_path())
        self._options(params)

    @property
    def detector(self) -> str:
        """Which detector this processor runs: ``blazeface`` or ``haar``."""
        return "blazeface" if isinstance(self._detector, BlazeFace) else "haar"

    def _options(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(self._detector, HaarFaces):
            return _haar_options(self.name, params)
        return {
            "min_score": get_float(self.name, params, "min_score", 0.5, lo=0.0, hi=1.0),
            # One row of square tiles by default: a single 128-pixel pass misses faces
            # narrower than ~1/7 of the frame's width (any face at 720p up to ~180 px).
            "tile_rows": get_int(self.name, params, "tile_rows", 1, lo=0, hi=4),
        }

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """Append the faces found in ``frame``."""
        found = self._detector.detect(frame, **self._options(params))
        return Result(frame, [*detections, *found])
