"""Processors by name, and building a chain from a list of names and their parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lensguard.vision.errors import InvalidParams, UnknownProcessor
from lensguard.vision.faces import FaceDetect, FaceDetectHaar
from lensguard.vision.filters import Blur, BlurFaces, Edges, Grayscale, PixelateFaces
from lensguard.vision.motion import MotionDetect
from lensguard.vision.onnx_detect import OnnxDetect
from lensguard.vision.processor import Chain, Processor, Step

Factory = Callable[[Mapping[str, Any]], Processor]
# A chain longer than this is a mistake or an attempt to burn the relay's CPU.
MAX_CHAIN = 16


class Registry:
    """A name -> factory table; a factory validates parameters and loads models once."""

    def __init__(self) -> None:
        self._factories: dict[str, Factory] = {}

    def register(self, name: str, factory: Factory) -> None:
        """Add ``factory`` under ``name``; names are unique."""
        if name in self._factories:
            raise ValueError(f"processor {name!r} is already registered")
        self._factories[name] = factory

    @property
    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._factories)

    def create(self, name: str, params: Mapping[str, Any] | None = None) -> Processor:
        """A new processor ``name`` configured with ``params``."""
        factory = self._factories.get(name)
        if factory is None:
            raise UnknownProcessor(name, self._factories)
        if params is not None and not isinstance(params, Mapping):
            raise InvalidParams(
                f"{name}: parameters must be a mapping, got {type(params).__name__}"
            )
        return factory(params or {})

    def build_chain(
        self, names: Sequence[str], params: Mapping[str, Mapping[str, Any]] | None = None
    ) -> Chain:
        """A chain of ``names`` in order; ``params[name]`` configures each of them."""
        if isinstance(names, str):
            raise InvalidParams("names must be a list of processor names, not one string")
        if len(names) > MAX_CHAIN:
            raise InvalidParams(f"a chain has at most {MAX_CHAIN} processors, got {len(names)}")
        params = params or {}
        # Checked first, so a typo in a name is reported before any model is loaded.
        for name in names:
            if name not in self._factories:
                raise UnknownProcessor(name, self._factories)
        stray = sorted(set(params) - set(names))
        if stray:
            raise InvalidParams(f"parameters given for {', '.join(stray)}, not in the chain")
        steps = []
        for name in names:
            step_params = params.get(name) or {}
            steps.append(Step(self.create(name, step_params), step_params))
        return Chain(steps)


def default_registry(*, models_dir: Path | None = None, onnx_dir: Path | None = None) -> Registry:
    """The built-in processors; ``models_dir`` holds BlazeFace, ``onnx_dir`` the ONNX models."""
    registry = Registry()
    registry.register("face_detect", lambda p: FaceDetect(p, models_dir=models_dir))
    registry.register("face_detect_haar", FaceDetectHaar)
    registry.register("pixelate_faces", PixelateFaces)
    registry.register("blur_faces", BlurFaces)
    registry.register("blur", Blur)
    registry.register("grayscale", Grayscale)
    registry.register("edges", Edges)
    registry.register("motion_detect", MotionDetect)
    registry.register("onnx_detect", lambda p: OnnxDetect(p, onnx_dir=onnx_dir))
    return registry


def build_chain(
    names: Sequence[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    models_dir: Path | None = None,
    onnx_dir: Path | None = None,
) -> Chain:
    """A chain of built-in processors (see ``default_registry``)."""
    registry = default_registry(models_dir=models_dir, onnx_dir=onnx_dir)
    return registry.build_chain(names, params)
