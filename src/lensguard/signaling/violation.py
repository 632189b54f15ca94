"""The one way a signaling session ends itself: a ``Violation`` carrying a close code."""

from __future__ import annotations


class Violation(Exception):
    """Ends the connection with a close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
