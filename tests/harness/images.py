"""Test images with the types the code under test expects (BGR ``uint8``)."""

from __future__ import annotations

from typing import Any, cast

import cv2
import numpy as np
from numpy.typing import NDArray
from skimage import data

Image = NDArray[np.uint8]


def astronaut(size: tuple[int, int] | None = None) -> Image:
    """skimage's astronaut photo (one face) as BGR, resized to ``size`` (width, height)."""
    rgb = cast(Any, data).astronaut()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1], dtype=np.uint8)
    if size is None:
        return bgr
    return cast(Image, cv2.resize(bgr, size))
