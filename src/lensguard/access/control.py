"""Which action each control command and control-lock message needs."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lensguard.errors import ValidationFailed

CONTROL_ACTIONS: Mapping[str, str] = MappingProxyType(
    {"move": "basic_control", "stop": "basic_control", "ptz": "camera_control"}
)
"""Command → the permission it needs. Read-only: a command missing here is refused."""

LOCK_ACTIONS: Mapping[str, str] = MappingProxyType(
    {"control_take": "control_override", "control_release": "camera_view"}
)
"""Control-lock message → the permission it needs. Taking the lock from its holder is a
right of its own; giving up one's own lock hands nothing out, so watching suffices."""


def control_action(command: str) -> str:
    """The action ``command`` needs; an unknown command is refused (never a default)."""
    action = CONTROL_ACTIONS.get(command)
    if action is None:
        # The rejected command is not repeated: problems never echo input.
        raise ValidationFailed(f"command must be one of: {', '.join(sorted(CONTROL_ACTIONS))}")
    return action
