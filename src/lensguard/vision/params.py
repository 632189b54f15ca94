"""Reading processor parameters strictly: unknown keys, wrong types and ranges are refused."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from lensguard.vision.errors import InvalidParams


def check_keys(where: str, params: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Raise ``InvalidParams`` naming any key of ``params`` that ``where`` does not take."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        valid = ", ".join(sorted(allowed)) or "none"
        raise InvalidParams(f"{where}: unknown parameter(s) {', '.join(unknown)}; valid: {valid}")


def get_int(
    where: str, params: Mapping[str, Any], key: str, default: int, *, lo: int, hi: int
) -> int:
    """An integer parameter within [lo, hi]."""
    value = params.get(key, default)
    # bool is an int subclass; `true` for a block size is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(f"{where}: {key} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise InvalidParams(f"{where}: {key} must be in [{lo}, {hi}], got {value}")
    return value


def get_float(
    where: str, params: Mapping[str, Any], key: str, default: float, *, lo: float, hi: float
) -> float:
    """A number parameter within [lo, hi]."""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParams(f"{where}: {key} must be a number, got {value!r}")
    if not lo <= value <= hi:
        raise InvalidParams(f"{where}: {key} must be in [{lo}, {hi}], got {value}")
    return float(value)


def get_choice(
    where: str, params: Mapping[str, Any], key: str, default: str, choices: Sequence[str]
) -> str:
    """A string parameter that must be one of ``choices``."""
    value = params.get(key, default)
    if value not in choices:
        raise InvalidParams(f"{where}: {key} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def get_str(where: str, params: Mapping[str, Any], key: str) -> str:
    """A required, non-empty string parameter."""
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidParams(f"{where}: {key} is required (a non-empty string)")
    return value


def get_labels(
    where: str, params: Mapping[str, Any], key: str, default: Sequence[str]
) -> tuple[str, ...]:
    """A list of non-empty strings."""
    value = params.get(key, default)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidParams(f"{where}: {key} must be a list of strings, got {value!r}")
    if not all(isinstance(v, str) and v for v in value):
        raise InvalidParams(f"{where}: {key} must hold non-empty strings only")
    return tuple(value)
