"""The client messages, as the protocol defines them (``lensguard.wire.client``).

Kept while the session's dispatch moves to ``parse_client_message``; ``parse`` raises
where the protocol returns a ``ProtocolError``.
"""

from __future__ import annotations

# Re-exported: which action each control command needs lives in the access core.
from lensguard.access.control import CONTROL_ACTIONS as CONTROL_ACTIONS  # noqa: PLC0414
from lensguard.wire.client import (
    MAX_CANDIDATE_CHARS as MAX_CANDIDATE_CHARS,  # noqa: PLC0414
)
from lensguard.wire.client import MAX_SDP_BYTES as MAX_SDP_BYTES  # noqa: PLC0414
from lensguard.wire.client import Answer as Answer  # noqa: PLC0414
from lensguard.wire.client import Auth as Auth  # noqa: PLC0414
from lensguard.wire.client import Candidate as Candidate  # noqa: PLC0414
from lensguard.wire.client import ClientMessage as ClientMessage  # noqa: PLC0414
from lensguard.wire.client import Control as Control  # noqa: PLC0414
from lensguard.wire.client import ControlArgs as ControlArgs  # noqa: PLC0414
from lensguard.wire.client import Leave as Leave  # noqa: PLC0414
from lensguard.wire.client import Offer as Offer  # noqa: PLC0414
from lensguard.wire.client import Publish as Publish  # noqa: PLC0414
from lensguard.wire.client import Reauth as Reauth  # noqa: PLC0414
from lensguard.wire.client import Subscribe as Subscribe  # noqa: PLC0414
from lensguard.wire.client import parse_client_message
from lensguard.wire.frames import MAX_FRAME_BYTES as MAX_FRAME_BYTES  # noqa: PLC0414
from lensguard.wire.frames import ProtocolError


class ProtocolViolation(ValueError):
    """Raised when a frame is too large, not JSON, or not a valid message."""


def parse(frame: str | bytes) -> ClientMessage:
    """Parse one frame; raises ProtocolViolation with the protocol's reason."""
    message = parse_client_message(frame)
    if isinstance(message, ProtocolError):
        raise ProtocolViolation(message.reason)
    return message
