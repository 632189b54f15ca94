"""Checks on stream settings that the request models cannot make on their own."""

from __future__ import annotations

from collections.abc import Sequence

from lensguard.errors import ValidationFailed
from lensguard.sizing import parse_resolution
from lensguard.vision.registry import default_registry


def check_models(names: Sequence[str]) -> None:
    """Refuse unknown processor names with a 422 that lists the valid ones."""
    valid = default_registry().names
    if any(n not in valid for n in names):
        allowed = ", ".join(valid)
        # The valid names, never the ones sent: problems do not echo input.
        raise ValidationFailed(
            f"ai_models must be among: {allowed}",
            errors=[
                {
                    "field": "body.ai_models",
                    "message": f"must be among: {allowed}",
                    "type": "unknown_processor",
                }
            ],
        )


def check_resolution(text: str | None) -> None:
    """Refuse a picture size outside what the encoder accepts (None keeps the source's)."""
    if text is None:
        return
    try:
        parse_resolution(text)
    except ValueError as exc:
        raise ValidationFailed(
            f"resolution {exc}",
            errors=[{"field": "body.resolution", "message": str(exc), "type": "value_error"}],
        ) from exc
