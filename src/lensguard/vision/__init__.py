"""AI processors for live streams: face detection and redaction, filters, ONNX detectors.

Independent of the media stack: processors take numpy BGR images, so the relay (or a
test, or a benchmark) feeds them frames however it decodes them. See docs/vision.md.
"""

from lensguard.vision.errors import (
    BudgetExceeded,
    InvalidFrame,
    InvalidParams,
    ModelMissing,
    ProcessorFailed,
    UnknownProcessor,
    VisionError,
)
from lensguard.vision.failclosed import Redacted, redact_or_blank
from lensguard.vision.processor import (
    Chain,
    ChainResult,
    Detection,
    Frame,
    Processor,
    Result,
    Step,
    Timing,
)
from lensguard.vision.registry import Registry, build_chain, default_registry

__all__ = [
    "BudgetExceeded",
    "Chain",
    "ChainResult",
    "Detection",
    "Frame",
    "InvalidFrame",
    "InvalidParams",
    "ModelMissing",
    "Processor",
    "ProcessorFailed",
    "Redacted",
    "Registry",
    "Result",
    "Step",
    "Timing",
    "UnknownProcessor",
    "VisionError",
    "build_chain",
    "default_registry",
    "redact_or_blank",
]
