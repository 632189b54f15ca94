"""Where model files live: Haar cascades in OpenCV, BlazeFace extracted at set-up.

Nothing here downloads anything: a missing file is an error (or, for ``face_detect``
in ``auto`` mode, a fallback to Haar). ``scripts/extract-models.py`` fills
``models/`` from the ``mediapipe`` wheel at set-up; it pins the same values as below.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2

from lensguard.vision.errors import ModelMissing

BLAZEFACE_FILE = "face_detection_short_range.tflite"
BLAZEFACE_SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
BLAZEFACE_SOURCE = "mediapipe==0.10.21"
HAAR_FRONTAL = "haarcascade_frontalface_default.xml"
_SETUP_HINT = "run `make setup` (or `python scripts/extract-models.py`) to extract it"


def default_models_dir() -> Path:
    """The package's own model folder, filled by ``scripts/extract-models.py``."""
    return Path(__file__).resolve().parent / "models"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def blazeface_path(models_dir: Path | None = None) -> Path:
    """The BlazeFace short-range model, checked against its pinned hash."""
    path = (models_dir or default_models_dir()) / BLAZEFACE_FILE
    if not path.is_file():
        raise ModelMissing(f"BlazeFace model not found at {path}; {_SETUP_HINT}")
    # A corrupted or substituted model could silently stop finding faces.
    if sha256_file(path) != BLAZEFACE_SHA256:
        raise ModelMissing(
            f"BlazeFace model at {path} does not match its pinned SHA-256; {_SETUP_HINT}"
        )
    return path


def haar_path(name: str = HAAR_FRONTAL) -> Path:
    """A Haar cascade shipped with opencv-python-headless (4.x; 5.x ships none)."""
    # What cv2.data.haarcascades points at; cv2's stubs do not declare its data module.
    folder = Path(cv2.__file__).parent / "data"
    path = folder / name
    if not path.is_file():
        raise ModelMissing(
            f"Haar cascade {name} not found in {folder}; install opencv-python-headless<5"
        )
    return path
