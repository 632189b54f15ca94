"""Pairing on the bus: how a viewer's session (or a relay node) meets a device's session.

``join`` goes to ``device:<id>``; the device's session pairs with the sender, answers
``joined`` on the sender's ``conn:<id>`` and tells its device (``viewer``). These two
never reach a client's socket.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lensguard.wire.client import Mode
from lensguard.wire.kinds import Kind
from lensguard.wire.server import Label, PrincipalInfo, ServerModel


class Join(ServerModel):
    """To a device's channel: pair me (a viewer's session or a relay) with you."""

    type: Literal["join"]
    sender: Label = Field(alias="from")
    mode: Mode
    principal: PrincipalInfo


class Joined(ServerModel):
    """The device's session paired with the joiner: ``from`` is its connection."""

    type: Literal["joined"]
    sender: Label = Field(alias="from")
    device_id: Label


def join(sender: str, mode: str, principal: dict[str, Any]) -> dict[str, Any]:
    return {"type": Kind.JOIN.value, "from": sender, "mode": mode, "principal": principal}


def joined(sender: str, device_id: str) -> dict[str, Any]:
    return {"type": Kind.JOINED.value, "from": sender, "device_id": device_id}
