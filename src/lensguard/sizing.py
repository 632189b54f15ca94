"""Picture sizes: parsing ``WIDTHxHEIGHT`` and fitting a picture inside a bound.

Plain arithmetic shared by the store (stream policy), media, the agent and the API.
"""

from __future__ import annotations

import re

RESOLUTION = re.compile(r"^(\d{3,4})x(\d{3,4})$")
MIN_SIZE, MAX_SIZE = (320, 240), (3840, 2160)


def parse_resolution(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> ``(1280, 720)``; raises ValueError outside 320x240..3840x2160."""
    match = RESOLUTION.match(text)
    if match is None:
        raise ValueError("must be WIDTHxHEIGHT, e.g. 1280x720")
    width, height = int(match.group(1)), int(match.group(2))
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise ValueError("must be between 320x240 and 3840x2160")
    return width, height


def fit_within(width: int, height: int, bound: tuple[int, int]) -> tuple[int, int]:
    """The largest even size with ``width:height``'s aspect inside ``bound``; never larger.

    Pictures are only ever scaled down: upscaling adds bits, not detail.
    """
    scale = min(1.0, bound[0] / width, bound[1] / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)
