"""The registry builds chains by name, refuses what it does not know, and times each step."""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from lensguard.vision import (
    Chain,
    Detection,
    Frame,
    InvalidFrame,
    InvalidParams,
    ProcessorFailed,
    Registry,
    Result,
    Step,
    UnknownProcessor,
    build_chain,
    default_registry,
)
from lensguard.vision.processor import Processor

BUILT_INS = [
    "blur",
    "blur_faces",
    "edges",
    "face_detect",
    "face_detect_haar",
    "grayscale",
    "motion_detect",
    "onnx_detect",
    "pixelate_faces",
]


class Mark:
    """Appends a detection carrying its name, so the order of steps shows in the result."""

    def __init__(self, name: str, sleep_ms: float = 0.0) -> None:
        self.name = name
        self.sleep_ms = sleep_ms

    def process(
        self, frame: np.ndarray, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        time.sleep(self.sleep_ms / 1000)
        return Result(frame, [*detections, Detection((0, 0, 1, 1), self.name, params["score"])])


def mark_named(name: str, _params: Mapping[str, Any]) -> Mark:
    """A factory of slow marks named ``name``."""
    return Mark(name, sleep_ms=5)


def test_built_in_names() -> None:
    assert default_registry().names == BUILT_INS


def test_unknown_processor_names_the_valid_ones() -> None:
    with pytest.raises(UnknownProcessor) as caught:
        build_chain(["face_detect", "deepfake"])
    assert str(caught.value) == f"unknown processor 'deepfake'; valid: {', '.join(BUILT_INS)}"
    assert isinstance(caught.value, ValueError)
    assert caught.value.name == "deepfake"
    assert caught.value.valid == BUILT_INS


def test_parameters_for_a_processor_not_in_the_chain_are_refused() -> None:
    with pytest.raises(InvalidParams, match="parameters given for blur, not in the chain"):
        build_chain(["grayscale"], {"blur": {"kernel": 5}})


def test_parameters_must_be_a_mapping() -> None:
    with pytest.raises(InvalidParams, match="blur: parameters must be a mapping, got list"):
        build_chain(["blur"], {"blur": [5]})  # type: ignore[dict-item]


def test_a_single_string_is_not_a_list_of_names() -> None:
    with pytest.raises(InvalidParams, match="not one string"):
        build_chain("blur")


def test_chains_are_bounded() -> None:
    with pytest.raises(InvalidParams, match="at most 16 processors, got 17"):
        build_chain(["grayscale"] * 17)


def test_names_are_registered_once() -> None:
    registry = Registry()
    registry.register("mark", lambda p: Mark("mark"))
    with pytest.raises(ValueError, match="'mark' is already registered"):
        registry.register("mark", lambda p: Mark("mark"))


def test_chain_runs_in_order_and_times_every_step() -> None:
    registry = Registry()
    for name in ("first", "second", "third"):
        registry.register(name, functools.partial(mark_named, name))
    chain = registry.build_chain(
        ["second", "first", "third"],
        {"first": {"score": 0.1}, "second": {"score": 0.2}, "third": {"score": 0.3}},
    )
    assert isinstance(Mark("m"), Processor)
    assert chain.names == ["second", "first", "third"]
    result = chain.run(Frame(np.zeros((8, 8, 3), np.uint8), pts=42))
    assert [(d.label, d.score) for d in result.detections] == [
        ("second", 0.2),
        ("first", 0.1),
        ("third", 0.3),
    ]
    assert [t.name for t in result.timings] == ["second", "first", "third"]
    assert all(t.ms >= 4 for t in result.timings)
    assert result.total_ms == pytest.approx(sum(t.ms for t in result.timings))
    assert result.frame.pts == 42


def test_a_processor_error_names_the_processor() -> None:
    class Broken:
        name = "broken"

        def process(self, frame: np.ndarray, detections: list[Detection], params: Any) -> Result:
            raise ZeroDivisionError("division by zero")

    with pytest.raises(ProcessorFailed, match="processor 'broken' failed: ZeroDivisionError"):
        Chain([Step(Broken())]).run(Frame(np.zeros((4, 4, 3), np.uint8)))


def test_a_processor_must_keep_the_frame_shape() -> None:
    class Shrinks:
        name = "shrinks"

        def process(self, frame: np.ndarray, detections: list[Detection], params: Any) -> Result:
            return Result(frame[:2], detections)

    with pytest.raises(ProcessorFailed, match="another shape or dtype"):
        Chain([Step(Shrinks())]).run(Frame(np.zeros((4, 4, 3), np.uint8)))


def test_chain_parameters_are_frozen() -> None:
    params = {"score": 0.5}
    chain = Chain([Step(Mark("m"), params)])
    params["score"] = 0.9
    result = chain.run(Frame(np.zeros((4, 4, 3), np.uint8)))
    assert result.detections[0].score == 0.5


@pytest.mark.parametrize(
    "image",
    [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((0, 4, 3), np.uint8)],
)
def test_frames_must_be_bgr_uint8(image: np.ndarray) -> None:
    with pytest.raises(InvalidFrame):
        Frame(image)


@pytest.mark.process
def test_the_package_stays_independent_of_the_media_stack() -> None:
    code = (
        "import sys, lensguard.vision;"
        "print(sorted(m for m in ('aiortc', 'av', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
