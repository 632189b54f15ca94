"""Checks on stream settings that the request models cannot make on their own."""

from __future__ import annotations

from collections.abc import Sequence

from lensguard.errors import ValidationFailed
from lensguard.sizing import parse_resolution
from lensguard.store.streams import RECORDING_MODES
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


MAX_PRE_ROLL = 30
MAX_POST_ROLL = 300
SEGMENT_RANGE = (2.0, 10.0)


def _refuse(name: str, message: str, kind: str) -> ValidationFailed:
    return ValidationFailed(
        f"{name} {message}",
        errors=[{"field": f"body.recording.{name}", "message": message, "type": kind}],
    )


def check_recording(
    mode: str, pre_roll: int | None, post_roll: int | None, segment: float | None
) -> None:
    """Refuse an unknown recording mode or lengths outside what the recorder does."""
    if mode not in RECORDING_MODES:
        raise _refuse("mode", f"must be among: {', '.join(RECORDING_MODES)}", "unknown_mode")
    if pre_roll is not None and not 0 <= pre_roll <= MAX_PRE_ROLL:
        raise _refuse("pre_roll_seconds", f"must be between 0 and {MAX_PRE_ROLL}", "range")
    if post_roll is not None and not 0 <= post_roll <= MAX_POST_ROLL:
        raise _refuse("post_roll_seconds", f"must be between 0 and {MAX_POST_ROLL}", "range")
    low, high = SEGMENT_RANGE
    if segment is not None and not low <= segment <= high:
        raise _refuse("segment_seconds", "must be between 2 and 10", "range")
