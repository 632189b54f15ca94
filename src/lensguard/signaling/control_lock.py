"""The control lock: one connection drives a device at a time, whichever node it is on.

Each device's lock is a lease (``store/leases.py``: memory in embedded mode, Redis in
cluster mode) whose holder token is the holding connection's identity as the server
bound it (``{kind, id, name, connection}``). Every change of holder is announced on the
``control-holders`` bus channel; each node's hub passes it to the local sockets
watching that device, so watchers everywhere learn who drives.
"""

from __future__ import annotations

import json
from typing import Any

from lensguard.bus.base import Bus
from lensguard.bus.channels import CONTROL_HOLDERS
from lensguard.logs import get_logger
from lensguard.store.leases import Claim, Leases
from lensguard.wire import server

log = get_logger("lensguard.signaling")

Holder = dict[str, str]
"""Who holds a lock: ``{kind, id, name, connection}``, as in a forwarded ``control``."""


def lock_key(device_id: str) -> str:
    return f"control:device:{device_id}"


def token(holder: Holder) -> str:
    """The lease's holder token: the same text for the same connection, every time."""
    return json.dumps(holder, sort_keys=True, separators=(",", ":"))


def holder_of(text: str | None) -> Holder | None:
    """The holder a token names (None for none, or for a record this code did not write)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return {str(k): str(v) for k, v in value.items()}


class ControlLock:
    """Device control locks in the leases every node shares, and their announcements."""

    def __init__(self, leases: Leases, bus: Bus, *, idle: float) -> None:
        self.leases = leases
        self.bus = bus
        self.idle = idle
        """Seconds a lock lives without a command from its holder."""

    async def claim(self, device_id: str, holder: Holder) -> tuple[Claim, Holder | None]:
        """Take the lock if free, renew it if ``holder``'s; the outcome and who holds it."""
        result = await self.leases.claim(lock_key(device_id), token(holder), lease=self.idle)
        if result.outcome is Claim.ACQUIRED:
            await self.announce(device_id, holder, "claimed")
        return result.outcome, holder_of(result.holder)

    async def renew(self, device_id: str, holder: Holder) -> bool:
        """Move the idle deadline on while ``holder`` holds the lock; whether it does."""
        return await self.leases.renew(lock_key(device_id), token(holder), lease=self.idle)

    async def take(self, device_id: str, holder: Holder) -> Holder | None:
        """Make ``holder`` the holder whoever held it; whom it was taken from."""
        previous = holder_of(
            await self.leases.take(lock_key(device_id), token(holder), lease=self.idle)
        )
        if previous != holder:
            await self.announce(device_id, holder, "taken", previous=previous)
        return previous

    async def release(self, device_id: str, holder: Holder, reason: str) -> bool:
        """End ``holder``'s lock (``released`` or ``left``); whether it held it."""
        ended = await self.leases.release(lock_key(device_id), token(holder))
        if ended:
            await self.announce(device_id, None, reason)
        return ended

    async def expire(self, device_id: str, holder: Holder) -> float | None:
        """End ``holder``'s lock if it sat idle to its deadline; else the seconds it has
        left (None: it is not ``holder``'s any more)."""
        left = await self.leases.expire(lock_key(device_id), token(holder))
        if left == 0:
            await self.announce(device_id, None, "expired")
            return None
        return left

    async def current(self, device_id: str) -> Holder | None:
        """Who holds the device's lock now, or None."""
        return holder_of(await self.leases.holder(lock_key(device_id)))

    async def announce(
        self,
        device_id: str,
        holder: Holder | None,
        reason: str,
        *,
        previous: Holder | None = None,
    ) -> None:
        """Tell every node's watchers of the device who holds it now (never raises)."""
        message: dict[str, Any] = server.control_holder(
            device_id, holder, reason, previous=previous
        )
        try:
            await self.bus.publish(CONTROL_HOLDERS, message)
        except Exception as exc:
            # The lock itself is right; watchers learn the holder on their next subscribe.
            log.warning("control_holder_broadcast_failed", error=type(exc).__name__)
