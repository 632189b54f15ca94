"""Client-to-server messages: validated pydantic models with size limits.

Every frame a client sends is parsed here first; anything that does not parse is a
protocol violation (close 1008). Unknown fields are refused. Field limits keep one
client from making the server hold or forward large amounts of data: SDP ≤ 64 KiB,
candidates ≤ 1 KiB, control arguments a handful of bounded numbers. The agent
builds its own messages with these models too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from lensguard.wire.frames import MAX_FRAME_BYTES, ProtocolError, decode

MAX_SDP_BYTES = 64 * 1024
MAX_CANDIDATE_CHARS = 1024
MAX_TOKEN_CHARS = 8192

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Sdp = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SDP_BYTES)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TOKEN_CHARS)]
Mode = Literal["relay", "direct"]
Command = Literal["move", "stop", "ptz"]


class ClientModel(BaseModel):
    """A message a client sends: unknown fields refused, immutable once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def dump(self) -> dict[str, Any]:
        """The message as a JSON-ready dict."""
        return self.model_dump(mode="json")


class Auth(ClientModel):
    """First message of every connection: the bearer credential (never in the URL)."""

    type: Literal["auth"] = "auth"
    token: Token


class Reauth(ClientModel):
    """A fresh access token for the same principal, sent before the current one expires."""

    type: Literal["reauth"] = "reauth"
    token: Token


class Publish(ClientModel):
    """A device announces that it is ready to stream (its own stream only)."""

    type: Literal["publish"] = "publish"


class Subscribe(ClientModel):
    """A viewer asks to watch a device."""

    type: Literal["subscribe"] = "subscribe"
    device_id: Id
    mode: Mode = "relay"
    unredacted: bool = False
    """Break-glass: the raw picture of a redacted stream (needs an open grant; relay only)."""


class Offer(ClientModel):
    """An SDP offer for a connection the server paired this one with."""

    type: Literal["offer"] = "offer"
    to: Id
    sdp: Sdp


class Answer(ClientModel):
    """An SDP answer for a paired connection."""

    type: Literal["answer"] = "answer"
    to: Id
    sdp: Sdp


class Candidate(ClientModel):
    """A trickled ICE candidate for a paired connection (empty: end of candidates)."""

    type: Literal["candidate"] = "candidate"
    to: Id
    candidate: Annotated[str, StringConstraints(max_length=MAX_CANDIDATE_CHARS)]
    sdp_mid: Annotated[str, StringConstraints(max_length=32)] | None = None
    sdp_mline_index: int | None = Field(default=None, ge=0, le=64)


class ControlArgs(ClientModel):
    """Bounded drive/PTZ arguments: velocities in [-1, 1], zoom in [0, 1]."""

    linear: float = Field(default=0.0, ge=-1.0, le=1.0)
    angular: float = Field(default=0.0, ge=-1.0, le=1.0)
    pan: float = Field(default=0.0, ge=-1.0, le=1.0)
    tilt: float = Field(default=0.0, ge=-1.0, le=1.0)
    zoom: float = Field(default=0.0, ge=0.0, le=1.0)


class Control(ClientModel):
    """A command for a device; the server binds the sender's identity before forwarding."""

    type: Literal["control"] = "control"
    device_id: Id
    command: Command
    args: ControlArgs = Field(default_factory=ControlArgs)
    seq: int = Field(ge=0, le=2**53)


class ControlTake(ClientModel):
    """Take a device's control lock from whoever holds it (needs the take-over right)."""

    type: Literal["control_take"] = "control_take"
    device_id: Id


class ControlRelease(ClientModel):
    """Give up this connection's control lock on a device (a no-op for anyone else)."""

    type: Literal["control_release"] = "control_release"
    device_id: Id


class Leave(ClientModel):
    """Ends the pairing with ``to``, or with every paired connection."""

    type: Literal["leave"] = "leave"
    to: Id | None = None


ClientMessage = Annotated[
    Auth
    | Reauth
    | Publish
    | Subscribe
    | Offer
    | Answer
    | Candidate
    | Control
    | ControlTake
    | ControlRelease
    | Leave,
    Field(discriminator="type"),
]
CLIENT_MESSAGES: tuple[type[ClientModel], ...] = (
    Auth,
    Reauth,
    Publish,
    Subscribe,
    Offer,
    Answer,
    Candidate,
    Control,
    ControlTake,
    ControlRelease,
    Leave,
)
_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse_client_message(frame: str | bytes) -> ClientMessage | ProtocolError:
    """Parse one frame from a client: the message, or why it is a protocol violation."""
    return decode(_ADAPTER, frame, MAX_FRAME_BYTES)
