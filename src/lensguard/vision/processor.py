"""The processor interface: frames, detections, results and the chain that runs them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

from lensguard.vision.errors import BudgetExceeded, InvalidFrame, ProcessorFailed, VisionError

Image: TypeAlias = npt.NDArray[np.uint8]
Box: TypeAlias = tuple[int, int, int, int]


def check_image(image: object) -> Image:
    """Return ``image`` if it is a non-empty BGR uint8 H x W x 3 array, else raise."""
    if not isinstance(image, np.ndarray):
        raise InvalidFrame(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InvalidFrame(f"expected uint8 H x W x 3, got {image.dtype} {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidFrame(f"empty image {image.shape}")
    return image


def as_image(array: object) -> Image:
    """An OpenCV result typed as an ``Image`` (no copy when it already is uint8)."""
    return np.asarray(array, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Frame:
    """One video frame as processors see it: BGR uint8 H x W x 3 plus its timestamp."""

    image: Image
    pts: int | None = None

    def __post_init__(self) -> None:
        check_image(self.image)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


@dataclass(frozen=True, slots=True)
class Detection:
    """Something found in a frame: a pixel box (x, y, w, h), a label and a score in [0, 1]."""

    box: Box
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class Result:
    """What a processor hands on: the (possibly new) image and every detection so far."""

    frame: Image
    detections: list[Detection]


@runtime_checkable
class Processor(Protocol):
    """One step of a chain.

    ``process`` receives the image, the detections made by earlier steps and this
    step's parameters. It may write into ``frame`` (the chain owns a private copy)
    and must return an image of the same shape and dtype.
    """

    name: str

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """Process one frame."""
        ...


@runtime_checkable
class TimedProcessor(Processor, Protocol):
    """A processor that also wants the frame's timestamp (90 kHz ticks, None if unknown)."""

    def process_at(
        self,
        frame: Image,
        detections: list[Detection],
        params: Mapping[str, Any],
        *,
        pts: int | None,
    ) -> Result:
        """Process one frame taken at ``pts``."""
        ...


@dataclass(frozen=True, slots=True)
class Step:
    """A processor and the parameters it runs with."""

    processor: Processor
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Timing:
    """How long one step took on one frame, in milliseconds."""

    name: str
    ms: float


@dataclass(frozen=True, slots=True)
class ChainResult:
    """The chain's output frame, its detections and each step's time."""

    frame: Frame
    detections: list[Detection]
    timings: tuple[Timing, ...]

    @property
    def total_ms(self) -> float:
        """Milliseconds spent in all steps together."""
        return sum(t.ms for t in self.timings)


Call: TypeAlias = Callable[[Image, list[Detection], Mapping[str, Any], int | None], Result]


def _caller(processor: Processor) -> Call:
    """How a chain calls ``processor``: with the frame's timestamp if it takes one."""
    if isinstance(processor, TimedProcessor):
        timed = processor
        return lambda frame, detections, params, pts: timed.process_at(
            frame, detections, params, pts=pts
        )
    return lambda frame, detections, params, _pts: processor.process(frame, detections, params)


class Chain:
    """Processors run in order, each fed the previous one's image and detections."""

    def __init__(self, steps: Sequence[Step]) -> None:
        # Parameters are frozen so a caller cannot change a running chain behind its back.
        self._steps = tuple(Step(s.processor, MappingProxyType(dict(s.params))) for s in steps)
        # Whether a step takes the frame's timestamp is decided once, not per frame.
        self._calls = tuple(_caller(s.processor) for s in self._steps)

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps, in order (their parameters read-only)."""
        return self._steps

    @property
    def names(self) -> list[str]:
        """The processors' names, in order."""
        return [s.processor.name for s in self._steps]

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        return f"Chain({self.names!r})"

    def run(self, frame: Frame, *, budget_ms: float | None = None) -> ChainResult:
        """Run every step on ``frame``; the caller's image is never modified."""
        image = frame.image.copy()
        shape = image.shape
        detections: list[Detection] = []
        timings: list[Timing] = []
        elapsed = 0.0
        for step, call in zip(self._steps, self._calls, strict=True):
            name = step.processor.name
            started = time.perf_counter()
            try:
                result = call(image, detections, step.params, frame.pts)
            except VisionError:
                raise
            except Exception as exc:
                raise ProcessorFailed(name, f"{type(exc).__name__}: {exc}") from exc
            ms = (time.perf_counter() - started) * 1000.0
            timings.append(Timing(name, ms))
            out = result.frame
            if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != shape:
                raise ProcessorFailed(name, "returned an image of another shape or dtype")
            image, detections = out, list(result.detections)
            elapsed += ms
            # Checked between steps: Python cannot interrupt a running processor.
            if budget_ms is not None and elapsed > budget_ms:
                raise BudgetExceeded(name, elapsed, budget_ms)
        return ChainResult(Frame(image, frame.pts), detections, tuple(timings))
