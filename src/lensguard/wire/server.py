"""Server-to-client messages: what a viewer or a device receives, and their builders.

The server builds every message with the functions below (plain dicts, ready for
``send_json`` and the bus); the models describe them for whoever reads them, with
limits a receiver may rely on. Receivers ignore fields they do not know, so a newer
server can add one without breaking an older agent. ``parse_server_message`` is
what a client uses to read them; the tests prove each builder's output parses.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from lensguard.wire.client import (
    MAX_CANDIDATE_CHARS,
    Answer,
    Candidate,
    Command,
    Mode,
    Offer,
    Sdp,
)
from lensguard.wire.frames import ProtocolError, decode
from lensguard.wire.kinds import Kind

MAX_SERVER_FRAME_BYTES = 256 * 1024
"""The largest frame a client should accept from the server."""

Label = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(max_length=1024)]
Unit = Annotated[float, Field(ge=-1.0, le=1.0)]


class ErrorCode(StrEnum):
    """The ``code`` of an ``error`` message: a refusal that keeps the connection open."""

    NOT_FOUND = "not_found"
    """No such device, or one out of the principal's scope (the same answer)."""
    FORBIDDEN = "forbidden"
    """The principal's role does not allow the action."""
    UNKNOWN_PEER = "unknown_peer"
    """The ``to`` connection is not paired with this one."""
    NOT_SUBSCRIBED = "not_subscribed"
    """A control command for a device this connection does not watch."""
    RATE_LIMITED = "rate_limited"
    """More than 30 control commands a second."""
    OFFLINE = "offline"
    """The device is not connected, or did not accept the relay."""
    INVALID_CONTROL = "invalid_control"
    """A data-channel frame that is not a valid control message."""
    INVALID_SDP = "invalid_sdp"
    """An offer or answer whose SDP the server refuses."""
    UNSUPPORTED = "unsupported"
    """This node has no media relay, or an unredacted view asked for direct mode."""
    REDACTED = "redacted"
    """Direct mode on a redacted stream (the server could not redact it)."""
    NO_GRANT = "no_grant"
    """An unredacted view without an open break-glass grant."""
    CAPACITY = "capacity"
    """This node or this stream has its maximum of viewers; try again after
    ``retry_after`` seconds (the viewers already watching are not affected)."""
    LOCKED = "locked"
    """Another connection holds the device's control lock (named in ``holder``); a
    ``stop`` is never refused for it."""


class ServerModel(BaseModel):
    """A message the server sends: receivers ignore fields they do not know."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class PrincipalInfo(ServerModel):
    """Who a connection belongs to, as the server authenticated it."""

    kind: Label
    id: Label
    name: Annotated[str, StringConstraints(max_length=128)]


class Ready(ServerModel):
    """The answer to ``auth``: this connection's id and its principal."""

    type: Literal["ready"]
    id: Label
    principal: PrincipalInfo


class Reauthed(ServerModel):
    """The answer to ``reauth``: when the new credential expires (None for an API key)."""

    type: Literal["reauthed"]
    expires_at: float | None


class Published(ServerModel):
    """The answer to ``publish``: the device's stream is announced."""

    type: Literal["published"]
    device_id: Label


class Settings(ServerModel):
    """Stream settings a publishing device applies itself (no resolution: the source's)."""

    type: Literal["settings"]
    bitrate: int = Field(gt=0)
    resolution: Annotated[str, StringConstraints(max_length=16)] | None = None


class Viewer(ServerModel):
    """To a device: a viewer (or a relay node) was paired with it; its offer follows."""

    type: Literal["viewer"]
    sender: Label = Field(alias="from")
    mode: Mode
    principal: PrincipalInfo


class Subscribed(ServerModel):
    """To a viewer: it is paired with ``peer``, the device or the relay serving it."""

    type: Literal["subscribed"]
    device_id: Label
    peer: Label


class OfferFrom(ServerModel):
    """An SDP offer from a paired connection."""

    type: Literal["offer"]
    sender: Label = Field(alias="from")
    sdp: Sdp


class AnswerFrom(ServerModel):
    """An SDP answer from a paired connection."""

    type: Literal["answer"]
    sender: Label = Field(alias="from")
    sdp: Sdp


class CandidateFrom(ServerModel):
    """A trickled ICE candidate from a paired connection."""

    type: Literal["candidate"]
    sender: Label = Field(alias="from")
    candidate: Annotated[str, StringConstraints(max_length=MAX_CANDIDATE_CHARS)]
    sdp_mid: Annotated[str, StringConstraints(max_length=32)] | None = None
    sdp_mline_index: int | None = Field(default=None, ge=0, le=64)


class Sender(ServerModel):
    """Who sent a control command, as the server bound it."""

    kind: Label
    id: Label
    name: Label
    connection: Label


class CommandArgs(ServerModel):
    """Velocities and camera pan/tilt in [-1, 1], zoom in [0, 1]; NaN and infinity refused."""

    model_config = ConfigDict(allow_inf_nan=False)

    linear: Unit = 0.0
    angular: Unit = 0.0
    pan: Unit = 0.0
    tilt: Unit = 0.0
    zoom: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0


class ControlFrom(ServerModel):
    """To a device: a control command, with the identity the server bound to it."""

    type: Literal["control"]
    sender: Sender = Field(alias="from")
    command: Command
    args: CommandArgs = Field(default_factory=CommandArgs)
    seq: int = Field(ge=0, le=2**53)


class LeaveFrom(ServerModel):
    """A paired connection went away."""

    type: Literal["leave"]
    sender: Label = Field(alias="from")


class Error(ServerModel):
    """A refused message; the connection stays open."""

    type: Literal["error"]
    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    message: Text
    retry_after: int | None = None
    """Seconds after which the same request may succeed (``capacity`` only)."""
    holder: Sender | None = None
    """Who holds the device's control lock (``locked`` only)."""


class DetectionItem(ServerModel):
    """One thing the AI chain found: a pixel box (x, y, w, h), a label and a score."""

    box: Annotated[list[int], Field(min_length=4, max_length=4)]
    label: Label
    score: float = Field(ge=0.0, le=1.0)


class Detections(ServerModel):
    """To a relay viewer: what the stream's AI chain found in one frame."""

    type: Literal["detections"]
    sender: Label = Field(alias="from")
    device_id: Label
    pts: int | None
    items: list[DetectionItem]


class Redaction(ServerModel):
    """To a break-glass viewer: the raw view started (``expires_at``) or ended (``reason``)."""

    type: Literal["redaction"]
    device_id: Label
    unredacted: bool
    grant_id: Label
    expires_at: str | None = None
    reason: Label | None = None


class ControlHolder(ServerModel):
    """To a device's watchers: who holds its control lock now (null: nobody)."""

    type: Literal["control_holder"]
    device_id: Label
    holder: Sender | None
    reason: Label
    """``current`` (on subscribe), ``claimed``, ``released``, ``left``, ``expired`` or ``taken``."""
    previous: Sender | None = None
    """Whom the lock was taken from (``taken`` only)."""


class CameraPose(ServerModel):
    """To a camera's watchers: the last pan/tilt/zoom pose commanded through the server."""

    type: Literal["camera_pose"]
    device_id: Label
    pan: Unit
    tilt: Unit
    zoom: Annotated[float, Field(ge=0.0, le=1.0)]
    reason: Label
    """``current`` (on subscribe) or ``moved`` (a ``ptz`` command was forwarded)."""
    by: Sender | None = None
    """Who commanded it (``moved`` only)."""


ServerMessage = Annotated[
    Ready
    | Reauthed
    | Published
    | Settings
    | Viewer
    | Subscribed
    | OfferFrom
    | AnswerFrom
    | CandidateFrom
    | ControlFrom
    | LeaveFrom
    | Error
    | Detections
    | Redaction
    | ControlHolder
    | CameraPose,
    Field(discriminator="type"),
]
SERVER_MESSAGES: tuple[type[ServerModel], ...] = (
    Ready,
    Reauthed,
    Published,
    Settings,
    Viewer,
    Subscribed,
    OfferFrom,
    AnswerFrom,
    CandidateFrom,
    ControlFrom,
    LeaveFrom,
    Error,
    Detections,
    Redaction,
    ControlHolder,
    CameraPose,
)
_ADAPTER: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def parse_server_message(frame: str | bytes) -> ServerMessage | ProtocolError:
    """Parse one frame from the server: the message, or why it is not a valid one."""
    return decode(_ADAPTER, frame, MAX_SERVER_FRAME_BYTES)


# -- builders (what the server sends; plain dicts for send_json and the bus) ----------


def principal_info(kind: str, id: str, name: str) -> dict[str, Any]:
    """The ``principal`` object of ``ready`` and ``viewer``."""
    return {"kind": kind, "id": id, "name": name}


def ready(connection: str, principal: dict[str, Any]) -> dict[str, Any]:
    return {"type": Kind.READY.value, "id": connection, "principal": principal}


def reauthed(expires_at: float | None) -> dict[str, Any]:
    return {"type": Kind.REAUTHED.value, "expires_at": expires_at}


def published(device_id: str) -> dict[str, Any]:
    return {"type": Kind.PUBLISHED.value, "device_id": device_id}


def settings(bitrate: int, resolution: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": Kind.SETTINGS.value, "bitrate": bitrate}
    if resolution is not None:
        message["resolution"] = resolution
    return message


def viewer(sender: str, mode: str, principal: dict[str, Any]) -> dict[str, Any]:
    return {"type": Kind.VIEWER.value, "from": sender, "mode": mode, "principal": principal}


def subscribed(device_id: str | None, peer: str) -> dict[str, Any]:
    return {"type": Kind.SUBSCRIBED.value, "device_id": device_id, "peer": peer}


def offer_from(sender: str, sdp: str) -> dict[str, Any]:
    return {"type": Kind.OFFER.value, "from": sender, "sdp": sdp}


def answer_from(sender: str, sdp: str) -> dict[str, Any]:
    return {"type": Kind.ANSWER.value, "from": sender, "sdp": sdp}


def forwarded(message: Offer | Answer | Candidate, sender: str) -> dict[str, Any]:
    """A peer's offer, answer or candidate as its pair receives it: ``from`` set, no ``to``."""
    return message.model_dump(exclude={"to"}) | {"from": sender}


def control_from(
    sender: dict[str, Any], command: str, args: dict[str, Any], seq: int
) -> dict[str, Any]:
    """A checked command for a device; ``sender`` is the identity the server bound."""
    return {
        "type": Kind.CONTROL.value,
        "from": sender,
        "command": command,
        "args": args,
        "seq": seq,
    }


def leave_from(sender: str) -> dict[str, Any]:
    return {"type": Kind.LEAVE.value, "from": sender}


def error(
    code: ErrorCode,
    message: str,
    *,
    retry_after: int | None = None,
    holder: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sent: dict[str, Any] = {"type": Kind.ERROR.value, "code": code.value, "message": message}
    if retry_after is not None:
        sent["retry_after"] = retry_after
    if holder is not None:
        sent["holder"] = holder
    return sent


def control_holder(
    device_id: str,
    holder: dict[str, Any] | None,
    reason: str,
    *,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Who holds a device's control lock now; ``previous`` when it was taken over."""
    sent: dict[str, Any] = {
        "type": Kind.CONTROL_HOLDER.value,
        "device_id": device_id,
        "holder": holder,
        "reason": reason,
    }
    if previous is not None:
        sent["previous"] = previous
    return sent


def camera_pose(
    device_id: str, pose: dict[str, float], reason: str, *, by: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A camera's last commanded pose (``pan``, ``tilt``, ``zoom``); ``by`` when it moved."""
    sent: dict[str, Any] = {"type": Kind.CAMERA_POSE.value, "device_id": device_id, **pose}
    sent["reason"] = reason
    if by is not None:
        sent["by"] = by
    return sent


def detections(device_id: str, pts: int | None, items: list[dict[str, Any]]) -> dict[str, Any]:
    """What the chain found; each relay endpoint adds its own ``from`` when it sends it on."""
    return {"type": Kind.DETECTIONS.value, "device_id": device_id, "pts": pts, "items": items}


def redaction_started(device_id: str, grant_id: str, expires_at: str) -> dict[str, Any]:
    return {
        "type": Kind.REDACTION.value,
        "device_id": device_id,
        "unredacted": True,
        "grant_id": grant_id,
        "expires_at": expires_at,
    }


def redaction_ended(device_id: str, grant_id: str, reason: str) -> dict[str, Any]:
    return {
        "type": Kind.REDACTION.value,
        "device_id": device_id,
        "unredacted": False,
        "grant_id": grant_id,
        "reason": reason,
    }
