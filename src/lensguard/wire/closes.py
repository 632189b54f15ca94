"""The close codes of ``/v1/signal``: one table, shown in docs/signaling.md.

Each member is the code itself (an ``int``, so it goes straight to ``close()``) and
carries who sends it and what it means. A test compares the page's table with this
one row by row, so the two cannot drift apart.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

Sender = Literal["server", "client", "either"]


class Close(IntEnum):
    """A WebSocket close code of the protocol, with its sender and meaning."""

    sender: Sender
    meaning: str

    def __new__(cls, code: int, sender: Sender, meaning: str) -> Close:
        member = int.__new__(cls, code)
        member._value_ = code
        member.sender = sender
        member.meaning = meaning
        return member

    NORMAL = (1000, "either", "the connection ended normally (a client or agent leaving)")
    GOING_AWAY = (1001, "server", "the server node is shutting down; reconnect")
    UNSUPPORTED_DATA = (1003, "server", "a binary frame: the protocol is JSON text frames only")
    POLICY_VIOLATION = (
        1008,
        "server",
        "policy violation: frame over 70 KiB, SDP over 64 KiB, not JSON, unknown type or "
        "field, bad value, more than 50 messages/s sustained (burst 100), more than 64 "
        "candidates per peer, more than 64 peers, a second `auth`, forbidden Origin, "
        "blocked address",
    )
    INTERNAL_ERROR = (1011, "server", "server fault; reconnect with backoff")
    TRY_AGAIN_LATER = (
        1013,
        "server",
        "the per-address request rate limit, or the node's socket limit (the reason then "
        "says `retry_after=<seconds>`), refused the connection",
    )
    UNAUTHENTICATED = (
        4401,
        "server",
        "no valid credential within the timeout, first message not `auth`, the "
        "session/credential was revoked, the access token expired without `reauth`, or a "
        "`reauth` was refused",
    )
    ACCESS_CHANGED = (
        4403,
        "server",
        "the principal's role or scope no longer allows a stream it was watching",
    )

    @property
    def label(self) -> str:
        """The name as the docs write it (``policy_violation``)."""
        return self.name.lower()
