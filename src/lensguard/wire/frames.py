"""Frames: the size limit and the one error every parse reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from lensguard.wire.closes import Close

MAX_FRAME_BYTES = 70 * 1024
"""The largest text frame a client may send (an SDP of 64 KiB and its envelope)."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """Why a frame is not a valid message; the connection closes with ``close``.

    ``reason`` is short and never repeats the rejected input: it names the field
    and the rule (``invalid message at subscribe.device_id: ...``) or the size.
    """

    reason: str
    close: Close = Close.POLICY_VIOLATION


def decode(adapter: TypeAdapter[T], frame: str | bytes, limit: int) -> T | ProtocolError:
    """Validate one JSON frame against ``adapter``; a ProtocolError when it does not fit."""
    size = len(frame.encode("utf-8") if isinstance(frame, str) else frame)
    if size > limit:
        return ProtocolError(f"frame of {size} bytes exceeds {limit}")
    try:
        return adapter.validate_json(frame)
    except ValidationError as exc:
        return ProtocolError(_first_error(exc))


def _first_error(exc: ValidationError) -> str:
    first: Any = exc.errors()[0]
    if first.get("type") == "union_tag_invalid":
        # pydantic's text repeats the unknown type the client sent.
        return "invalid message at type: unknown message type"
    where = ".".join(str(p) for p in first.get("loc", ())) or "message"
    return f"invalid message at {where}: {first.get('msg')}"
