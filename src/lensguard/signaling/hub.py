"""The node's signaling hub: local connections, and revocations that reach them.

Each connection listens on its own bus channel (``conn:<id>``), devices also on
``device:<id>``; every node listens on ``revocations``. Ending a session, changing
a user or removing a device publishes there, and whichever node holds an affected
socket closes it: revocation reaches live connections on every node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lensguard.bus.base import Bus
from lensguard.bus.channels import CONTROL_HOLDERS, REVOCATIONS
from lensguard.bus.follow import follow
from lensguard.clock import Clock, SystemClock
from lensguard.logs import get_logger
from lensguard.media.relay import MediaNode
from lensguard.monitor.metrics import Metrics
from lensguard.signaling.camera_pose import CameraPoses
from lensguard.signaling.control_lock import ControlLock
from lensguard.signaling.lock_watch import LockWatch
from lensguard.signaling.presence import Presence
from lensguard.store.kv import MemoryStore
from lensguard.store.leases import MemoryLeases
from lensguard.wire.closes import Close
from lensguard.wire.kinds import Kind

if TYPE_CHECKING:
    from lensguard.signaling.session import SignalSession

log = get_logger("lensguard.signaling")
DeviceHook = Callable[[str, str], None]
"""Told a device id and its connection id; must not block (schedule work instead)."""


class SignalingHub:
    """Owns this node's live signaling sessions."""

    def __init__(
        self,
        bus: Bus,
        media: MediaNode | None = None,
        *,
        metrics: Metrics | None = None,
        presence: Presence | None = None,
        control: ControlLock | None = None,
        poses: CameraPoses | None = None,
        gesture_gap: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.bus = bus
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.media = media
        self.metrics = metrics
        self.open_sockets = 0
        """Sockets open on ``/v1/signal`` now, authenticated or not (``claim``)."""
        self.presence = presence if presence is not None else Presence(MemoryStore())
        """Which devices are connected, on any node (shared with the device API)."""
        self.control = (
            control
            if control is not None
            else ControlLock(MemoryLeases(clock=SystemClock().time), bus, idle=15.0)
        )
        """Who drives each device, on any node (``signaling/control_lock.py``)."""
        self.poses = poses if poses is not None else CameraPoses(MemoryStore(), bus)
        """Each camera's last commanded pan/tilt/zoom (``signaling/camera_pose.py``)."""
        self.lock_watch = LockWatch(
            self.control,
            self.clock,
            local=lambda connection: connection in self.sessions,
            watched=self._watched,
            tell=self._tell_watchers,
            interval=self.control.idle / 3,
        )
        """Ends, for watchers here, a lock whose holder's node died (``lock_watch.py``)."""
        self.gesture_gap = gesture_gap
        """Seconds between identical commands that still make one audited gesture."""
        self.sessions: dict[str, SignalSession] = {}
        self._listener: asyncio.Task[None] | None = None
        self._holders: asyncio.Task[None] | None = None
        self.on_publish: list[DeviceHook] = []
        """Called with (device id, connection id) when a device publishes through this node."""
        self.on_unpublish: list[DeviceHook] = []
        """Called with (device id, connection id) when that connection ends."""

    def published(self, device_id: str, connection: str) -> None:
        """A device publishes through ``connection`` here: tell the hooks (never raises)."""
        self._tell(self.on_publish, device_id, connection)

    def unpublished(self, device_id: str, connection: str) -> None:
        """The publishing ``connection`` of a device ended: tell the hooks (never raises)."""
        self._tell(self.on_unpublish, device_id, connection)

    @staticmethod
    def _tell(hooks: list[DeviceHook], device_id: str, connection: str) -> None:
        for hook in hooks:
            try:
                hook(device_id, connection)
            except Exception as exc:
                log.warning("device_hook_failed", error=type(exc).__name__)

    async def start(self) -> None:
        """Listen for revocations in the background (idempotent).

        A bus that is down at start (Redis unreachable) must not stop the server from
        starting: the listener retries with backoff, and meanwhile the revocation
        store still refuses revoked credentials on their next use.
        """
        if self._listener is None:
            self._listener = asyncio.create_task(follow(self.bus, REVOCATIONS, self._revoked))
        if self._holders is None:
            self._holders = asyncio.create_task(
                follow(self.bus, CONTROL_HOLDERS, self._holder_changed)
            )

    async def stop(self) -> None:
        """Close every session and stop listening."""
        for session in list(self.sessions.values()):
            await session.shutdown(Close.GOING_AWAY, "server shutting down")
        self.lock_watch.close()
        for task in (self._listener, self._holders):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.media is not None:
            await self.media.close()

    def claim(self, limit: int) -> bool:
        """Count one more open socket, unless ``limit`` are open; whether it was counted."""
        if self.open_sockets >= limit:
            return False
        self.open_sockets += 1
        return True

    def release(self) -> None:
        """A socket counted by ``claim`` closed."""
        self.open_sockets = max(0, self.open_sockets - 1)

    def add(self, session: SignalSession) -> None:
        self.sessions[session.id] = session

    def remove(self, session: SignalSession) -> None:
        self.sessions.pop(session.id, None)

    async def _revoked(self, message: dict[str, Any]) -> None:
        await self.apply_revocation(message)

    async def _holder_changed(self, message: dict[str, Any]) -> None:
        """A device's control lock changed hands, or a camera moved: tell its watchers here."""
        if message.get("type") == Kind.CAMERA_POSE:
            for session in list(self.sessions.values()):
                await session.dispatch.pose_changed(message)
            return
        self.lock_watch.heard(message)
        await self._tell_watchers(message)

    async def _tell_watchers(self, message: dict[str, Any]) -> None:
        for session in list(self.sessions.values()):
            await session.dispatch.holder_changed(message)

    def _watched(self, device_id: str) -> bool:
        return any(device_id in s.dispatch.watching for s in self.sessions.values())

    async def apply_revocation(self, message: dict[str, Any]) -> int:
        """Re-check or close the local sessions a revocation message concerns."""
        affected = [s for s in self.sessions.values() if s.concerned_by(message)]
        for session in affected:
            await session.recheck(message)
        return len(affected)


def revocation_notifier(bus: Bus) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """A callback identity flows use to announce revocations on the bus."""

    async def notify(message: dict[str, Any]) -> None:
        try:
            await bus.publish(REVOCATIONS, message)
        except Exception as exc:
            # The revocation store already refuses the credential on its next use;
            # this only speeds up closing live sockets.
            log.warning("revocation_broadcast_failed", error=type(exc).__name__)

    return notify
