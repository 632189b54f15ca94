"""Errors the vision package raises on purpose; build-time ones are ``ValueError``s."""

from __future__ import annotations

from collections.abc import Iterable


class VisionError(Exception):
    """Base of every error the vision package raises on purpose."""


class UnknownProcessor(VisionError, ValueError):
    """Raised when a chain names a processor the registry does not have."""

    def __init__(self, name: str, valid: Iterable[str]) -> None:
        self.name = name
        self.valid = sorted(valid)
        super().__init__(f"unknown processor {name!r}; valid: {', '.join(self.valid)}")


class InvalidParams(VisionError, ValueError):
    """Raised when a processor's parameters are unknown, mistyped or out of range."""


class InvalidFrame(VisionError, ValueError):
    """Raised when an image is not BGR uint8 of shape H x W x 3."""


class ModelMissing(VisionError):
    """Raised when a model file a processor needs is absent or does not match its pin."""


class ProcessorFailed(VisionError):
    """Raised by ``Chain.run`` when a processor raises or returns a malformed frame."""

    def __init__(self, processor: str, reason: str) -> None:
        self.processor = processor
        self.reason = reason
        super().__init__(f"processor {processor!r} failed: {reason}")


class BudgetExceeded(VisionError):
    """Raised by ``Chain.run`` when the chain has used more than its time budget."""

    def __init__(self, processor: str, elapsed_ms: float, budget_ms: float) -> None:
        self.processor = processor
        self.elapsed_ms = elapsed_ms
        self.budget_ms = budget_ms
        super().__init__(
            f"chain over budget after {processor!r}: {elapsed_ms:.1f} ms > {budget_ms:.1f} ms"
        )
