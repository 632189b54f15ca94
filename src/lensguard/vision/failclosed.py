"""Fail-closed redaction: when the chain cannot vouch for a frame, nothing of it is shown."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np

from lensguard.vision.filters import pixelate
from lensguard.vision.processor import Chain, Detection, Frame, Image, Timing

FALLBACKS = ("blank", "pixelate")
DEFAULT_BUDGET_MS = 50.0
# The whole-frame fallback uses this many blocks across the longer side: too coarse
# for any face to stay recognisable, enough for a viewer to see the stream is alive.
FALLBACK_BLOCKS = 12


@dataclass(frozen=True, slots=True)
class Redacted:
    """A frame safe to publish; ``failed`` says it is the fallback, ``reason`` why."""

    frame: Frame
    detections: list[Detection]
    failed: bool
    reason: str | None = None
    timings: tuple[Timing, ...] = ()


def fallback_image(frame: Frame, mode: str = "blank") -> Image:
    """A new image with none of ``frame``'s detail: black, or very coarsely pixelated."""
    if mode == "pixelate":
        # Anything wrong while pixelating falls through to black.
        with contextlib.suppress(Exception):
            return pixelate(frame.image, math.ceil(max(frame.image.shape[:2]) / FALLBACK_BLOCKS))
    return np.zeros_like(frame.image)


def redact_or_blank(
    chain: Chain,
    frame: Frame,
    *,
    budget_ms: float = DEFAULT_BUDGET_MS,
    fallback: str = "blank",
) -> Redacted:
    """Run ``chain`` on ``frame``; on any error or over ``budget_ms``, return a fallback frame.

    The original pixels are never returned on failure: a redaction that did not finish
    may have missed a face. The caller counts and logs ``failed`` frames.
    """
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {', '.join(FALLBACKS)}, got {fallback!r}")
    try:
        result = chain.run(frame, budget_ms=budget_ms)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        return Redacted(Frame(fallback_image(frame, fallback), frame.pts), [], True, reason)
    return Redacted(result.frame, result.detections, False, None, result.timings)
