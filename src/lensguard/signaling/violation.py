"""The one way a signaling session ends itself: a ``Violation`` carrying a close code."""

from __future__ import annotations

from lensguard.wire.frames import ProtocolError


class Violation(Exception):
    """Ends the connection with a close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @classmethod
    def of(cls, error: ProtocolError) -> Violation:
        """The violation a frame that does not parse is: its close code and reason."""
        return cls(error.close, error.reason[:120])
