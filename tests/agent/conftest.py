"""Fixtures shared with the signaling tests."""

from tests.signaling.conftest import peers

__all__ = ["peers"]
