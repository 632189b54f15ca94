"""Images for the vision tests: the astronaut photo (one face) and a face-free scene."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lensguard.vision.models import BLAZEFACE_FILE, default_models_dir
from tests.harness.images import astronaut as photo

# The astronaut's face in skimage.data.astronaut() (512 x 512), found by looking at the
# photo: hairline to chin, ear to ear. Loose on purpose: detectors box faces differently.
ASTRONAUT_FACE = (178, 62, 96, 104)


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """The astronaut photo as BGR uint8 (skimage gives RGB)."""
    return photo()


def face_free_scene(height: int = 480, width: int = 640, seed: int = 7) -> np.ndarray:
    """Gradients, flat rectangles and mild noise: texture, edges, colour, and no face."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)
    planes = [np.add.outer(y * a, x * b) for a, b in ((0.5, 0.3), (0.2, 0.6), (0.7, 0.1))]
    img = np.clip(np.stack(planes, axis=2), 0, 255).astype(np.uint8)
    for _ in range(12):
        x0, y0 = (int(v) for v in rng.integers(0, (width - 80, height - 80)))
        x1, y1 = x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.rectangle(img, (x0, y0), (x1, y1), colour, -1)
    noisy = img.astype(np.int16) + rng.integers(-8, 9, img.shape)
    scene: np.ndarray = np.clip(noisy, 0, 255).astype(np.uint8)
    return scene


@pytest.fixture(scope="session")
def scene() -> np.ndarray:
    """A 640 x 480 BGR frame with no face in it."""
    return face_free_scene()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The package's model folder; set-up (make setup) must have extracted BlazeFace."""
    folder = default_models_dir()
    if not (folder / BLAZEFACE_FILE).is_file():
        pytest.fail(f"{folder / BLAZEFACE_FILE} is missing: run `python scripts/extract-models.py`")
    return folder
