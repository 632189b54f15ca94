"""Every message type name of the signaling protocol, in one enumeration."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """The ``type`` of a signaling message (a ``str``: compares equal to the name)."""

    # client to server
    AUTH = "auth"
    REAUTH = "reauth"
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"
    OFFER = "offer"
    ANSWER = "answer"
    CANDIDATE = "candidate"
    CONTROL = "control"
    CONTROL_TAKE = "control_take"
    CONTROL_RELEASE = "control_release"
    LEAVE = "leave"
    # server to client (offer, answer, candidate, control and leave travel both ways)
    READY = "ready"
    REAUTHED = "reauthed"
    PUBLISHED = "published"
    SETTINGS = "settings"
    VIEWER = "viewer"
    SUBSCRIBED = "subscribed"
    ERROR = "error"
    DETECTIONS = "detections"
    REDACTION = "redaction"
    CONTROL_HOLDER = "control_holder"
    CAMERA_POSE = "camera_pose"
    # between server parts on the bus, never on a client's socket
    JOIN = "join"
    JOINED = "joined"


def kind_of(message: object) -> Kind | None:
    """The type of a decoded message (a dict), or None when it has no known type."""
    if not isinstance(message, dict):
        return None
    value = message.get("type")
    if not isinstance(value, str):
        return None
    try:
        return Kind(value)
    except ValueError:
        return None
