"""Fail closed: when redaction cannot finish, no pixel of the original frame comes out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lensguard.vision import Chain, Detection, Frame, Result, Step, build_chain, redact_or_blank


class Sabotage:
    """Writes half the frame, then fails: the worst case for a fail-open design."""

    name = "sabotage"

    def process(self, frame: np.ndarray, detections: list[Detection], params: Any) -> Result:
        frame[: frame.shape[0] // 2] = 0
        raise RuntimeError("model crashed")


class Slow:
    """Correct but slow."""

    name = "slow"

    def process(self, frame: np.ndarray, detections: list[Detection], params: Any) -> Result:
        time.sleep(0.03)
        return Result(frame, detections)


def test_a_failing_processor_gives_a_blank_frame(astronaut: np.ndarray) -> None:
    original = astronaut.copy()
    out = redact_or_blank(Chain([Step(Sabotage())]), Frame(astronaut, pts=9))
    assert out.failed
    assert out.reason is not None and "model crashed" in out.reason
    assert out.frame.pts == 9
    assert out.frame.image.shape == astronaut.shape
    assert not out.frame.image.any()
    assert out.detections == []
    assert np.array_equal(astronaut, original)


def test_over_budget_gives_a_blank_frame(astronaut: np.ndarray) -> None:
    chain = Chain([Step(Slow()), Step(Slow())])
    out = redact_or_blank(chain, Frame(astronaut), budget_ms=10)
    assert out.failed
    assert out.reason is not None and "over budget after 'slow'" in out.reason
    assert not out.frame.image.any()


def test_pixelate_fallback_keeps_no_detail(astronaut: np.ndarray) -> None:
    out = redact_or_blank(Chain([Step(Sabotage())]), Frame(astronaut), fallback="pixelate")
    assert out.failed
    image = out.frame.image
    block = -(-512 // 12)
    for y in range(0, 512, block):
        for x in range(0, 512, block):
            cell = image[y : y + block, x : x + block].reshape(-1, 3)
            assert (cell == cell[0]).all()
    assert len(np.unique(image.reshape(-1, 3), axis=0)) <= 12 * 12


def test_a_successful_chain_passes_through(astronaut: np.ndarray, models_dir: Path) -> None:
    chain = build_chain(["face_detect", "pixelate_faces"], models_dir=models_dir)
    out = redact_or_blank(chain, Frame(astronaut), budget_ms=1000)
    assert not out.failed and out.reason is None
    assert len(out.detections) == 1
    assert [t.name for t in out.timings] == ["face_detect", "pixelate_faces"]
    assert out.frame.image.any()
    assert not np.array_equal(out.frame.image, astronaut)


def test_an_unknown_fallback_is_refused(astronaut: np.ndarray) -> None:
    with pytest.raises(ValueError, match="fallback must be one of blank, pixelate"):
        redact_or_blank(Chain([]), Frame(astronaut), fallback="original")
