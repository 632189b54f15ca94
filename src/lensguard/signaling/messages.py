"""The signaling messages: validated pydantic models with size limits.

Every frame is parsed here first; anything that does not parse is a protocol
violation (close 1008). Field limits keep one client from making the server hold
or forward large amounts of data: SDP ≤ 64 KiB, candidates ≤ 1 KiB, control
arguments a handful of bounded numbers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

# Re-exported: which action each control command needs lives in the access core.
from lensguard.access.control import CONTROL_ACTIONS as CONTROL_ACTIONS  # noqa: PLC0414

MAX_FRAME_BYTES = 70 * 1024
MAX_SDP_BYTES = 64 * 1024
MAX_CANDIDATE_CHARS = 1024

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Sdp = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SDP_BYTES)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=8192)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Auth(_Message):
    """First message of every connection: the bearer credential (never in the URL)."""

    type: Literal["auth"]
    token: Token


class Reauth(_Message):
    """A fresh access token for the same principal, sent before the current one expires."""

    type: Literal["reauth"]
    token: Token


class Publish(_Message):
    """A device announces that it is ready to stream (its own stream only)."""

    type: Literal["publish"]


class Subscribe(_Message):
    """A viewer asks to watch a device."""

    type: Literal["subscribe"]
    device_id: Id
    mode: Literal["relay", "direct"] = "relay"
    unredacted: bool = False
    """Break-glass: the raw picture of a redacted stream (needs an open grant; relay only)."""


class Offer(_Message):
    type: Literal["offer"]
    to: Id
    sdp: Sdp


class Answer(_Message):
    type: Literal["answer"]
    to: Id
    sdp: Sdp


class Candidate(_Message):
    type: Literal["candidate"]
    to: Id
    candidate: Annotated[str, StringConstraints(max_length=MAX_CANDIDATE_CHARS)]
    sdp_mid: Annotated[str, StringConstraints(max_length=32)] | None = None
    sdp_mline_index: int | None = Field(default=None, ge=0, le=64)


class ControlArgs(_Message):
    """Bounded drive/PTZ arguments: velocities in [-1, 1], zoom in [0, 1]."""

    linear: float = Field(default=0.0, ge=-1.0, le=1.0)
    angular: float = Field(default=0.0, ge=-1.0, le=1.0)
    pan: float = Field(default=0.0, ge=-1.0, le=1.0)
    tilt: float = Field(default=0.0, ge=-1.0, le=1.0)
    zoom: float = Field(default=0.0, ge=0.0, le=1.0)


class Control(_Message):
    """A command for a device; the server binds the sender's identity before forwarding."""

    type: Literal["control"]
    device_id: Id
    command: Literal["move", "stop", "ptz"]
    args: ControlArgs = Field(default_factory=ControlArgs)
    seq: int = Field(ge=0, le=2**53)


class Leave(_Message):
    type: Literal["leave"]
    to: Id | None = None


ClientMessage = Annotated[
    Auth | Reauth | Publish | Subscribe | Offer | Answer | Candidate | Control | Leave,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class ProtocolViolation(ValueError):
    """Raised when a frame is too large, not JSON, or not a valid message."""


def parse(frame: str | bytes) -> ClientMessage:
    """Parse one frame; raises ProtocolViolation with a short reason."""
    size = len(frame.encode("utf-8") if isinstance(frame, str) else frame)
    if size > MAX_FRAME_BYTES:
        raise ProtocolViolation(f"frame of {size} bytes exceeds {MAX_FRAME_BYTES}")
    try:
        return _ADAPTER.validate_json(frame)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "message"
        raise ProtocolViolation(f"invalid message at {where}: {first.get('msg')}") from None
