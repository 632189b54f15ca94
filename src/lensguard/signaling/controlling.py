"""One socket's control of devices: commands, the control lock, and their audit.

A command is checked in this order: the device is watched, ``can()`` allows its
action, the rate limit, then the lock. ``stop`` passes the lock whoever holds it
(a stop is always available to anyone allowed to drive) and neither takes nor
blocks it; ``move`` and ``ptz`` take a free lock, renew their own, and are refused
(``locked``, naming the holder) while another connection holds it. The lock ends on
``control_release``, ``leave``, the socket closing, or ``control.lock_idle_seconds``
without a command; ``control_take`` takes it over (``control_override``, audited).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from lensguard.access.can import can
from lensguard.access.control import CONTROL_ACTIONS, LOCK_ACTIONS
from lensguard.access.principal import Resource
from lensguard.clock import Timer
from lensguard.monitor.events import emit
from lensguard.settings import Severity
from lensguard.signaling.camera_pose import pose_of
from lensguard.signaling.control_lock import ControlLock, Holder
from lensguard.signaling.gestures import Gesture, GestureAudit
from lensguard.signaling.limits import CONTROL_BURST, CONTROLS_PER_SECOND, TokenBucket
from lensguard.store.leases import Claim
from lensguard.wire import server
from lensguard.wire.client import Control, ControlRelease, ControlTake
from lensguard.wire.server import ErrorCode

if TYPE_CHECKING:
    from lensguard.signaling.session import SignalSession


class Controller:
    """The control state of one socket: locks held, their idle timers, open gestures."""

    def __init__(self, session: SignalSession, watching: dict[str, str]) -> None:
        self.session = session
        self.watching = watching  # device id -> site, shared with the dispatcher
        self.bucket = TokenBucket(CONTROLS_PER_SECOND, CONTROL_BURST, session.clock.monotonic)
        self.held: dict[str, Timer] = {}
        """Devices whose lock this socket holds, each with its idle timer."""
        self.gestures = GestureAudit(session.clock, session.hub.gesture_gap, self._write)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def lock(self) -> ControlLock:
        return self.session.hub.control

    def holder(self) -> Holder:
        """This socket as a lock holder: the identity the server bound to it."""
        principal = self.session.require()
        return {
            "kind": principal.kind.value,
            "id": principal.id,
            "name": principal.name,
            "connection": self.session.id,
        }

    # -- messages --------------------------------------------------------------------

    async def control(self, message: Control) -> None:
        """A drive or camera command: check, lock, forward, audit."""
        action = CONTROL_ACTIONS[message.command]
        resource = await self._allowed(message.device_id, action, command=message.command)
        if resource is None:
            return
        session = self.session
        principal = session.require()
        if not self.bucket.take():
            emit("control.rate_limited", principal=principal.id, device_id=message.device_id)
            await session.error(ErrorCode.RATE_LIMITED, "too many control commands")
            return
        if message.command != "stop" and not await self._locked_for_me(message.device_id):
            return
        emit(
            "control.command",
            principal=principal.id,
            device_id=message.device_id,
            command=message.command,
            seq=message.seq,
        )
        args = message.args.model_dump()
        await self._forward(message.device_id, message.command, args, message.seq)
        if message.command == "stop":
            # Forwarded first: a slow audit write never delays a stop. Audited at once.
            await self.gestures.end(message.device_id)
            stop = Gesture(message.device_id, "stop", args, message.seq, session.clock.monotonic())
            stop.add(message.seq, stop.started)
            await self._write(stop)
            return
        if message.command == "ptz":
            await session.hub.poses.moved(message.device_id, pose_of(args), self.holder())
        await self.gestures.command(message.device_id, message.command, args, message.seq)

    async def take(self, message: ControlTake) -> None:
        """Take the device's lock from whoever holds it; audited, the previous holder told."""
        action = LOCK_ACTIONS[message.type]
        if await self._allowed(message.device_id, action, kind="control.take") is None:
            return
        me = self.holder()
        previous = await self.lock.take(message.device_id, me)
        self._hold(message.device_id)
        if previous == me:
            await self.session.send(server.control_holder(message.device_id, me, "current"))
            return
        emit(
            "control.take",
            severity=Severity.MEDIUM,
            principal=me["id"],
            device_id=message.device_id,
            taken_from=previous["id"] if previous else None,
        )
        await self.session.audit(
            "control.take",
            message.device_id,
            taken_from=(
                {"kind": previous["kind"], "id": previous["id"], "name": previous["name"]}
                if previous
                else None
            ),
        )
        # The new driver starts from a standing robot, whatever the last one was doing.
        await self._forward(message.device_id, "stop", {}, 0)

    async def release(self, message: ControlRelease) -> None:
        """Give up this socket's lock on the device (nothing for anyone else's)."""
        action = LOCK_ACTIONS[message.type]
        if await self._allowed(message.device_id, action, kind="control.release") is None:
            return
        await self.let_go(message.device_id, "released")

    async def let_go(self, device_id: str, reason: str) -> None:
        """End this socket's gesture and lock on the device (``released`` or ``left``)."""
        await self.gestures.end(device_id)
        timer = self.held.pop(device_id, None)
        if timer is None:
            return
        timer.cancel()
        try:
            await self.lock.release(device_id, self.holder(), reason)
        except Exception as exc:  # the lease still ends by itself when idle
            emit("control.release_failed", device_id=device_id, error=type(exc).__name__)

    def holder_changed(self, message: dict[str, Any]) -> None:
        """Another connection took a lock this socket held: forget it here too."""
        device_id = message.get("device_id")
        holder = message.get("holder")
        if not isinstance(device_id, str) or device_id not in self.held:
            return
        if isinstance(holder, dict) and holder.get("connection") == self.session.id:
            return
        timer = self.held.pop(device_id)
        timer.cancel()
        self._spawn(self.gestures.end(device_id))

    async def close(self) -> None:
        """The socket ends: write open gestures, give up every lock it holds."""
        await self.gestures.close()
        for device_id in list(self.held):
            await self.let_go(device_id, "left")
        for task in list(self._tasks):
            task.cancel()

    # -- the parts -------------------------------------------------------------------

    async def _allowed(
        self, device_id: str, action: str, *, kind: str = "control.command", **details: Any
    ) -> Resource | None:
        """The device as a resource when watched and ``action`` is allowed; else refused."""
        session = self.session
        principal = session.require()
        site = self.watching.get(device_id)
        if site is None:
            await session.error(
                ErrorCode.NOT_SUBSCRIBED, "subscribe to the device before controlling it"
            )
            return None
        resource = Resource(kind="device", id=device_id, site=site)
        if can(principal, action, resource):
            return resource
        emit(
            "control.refused",
            severity=Severity.MEDIUM,
            principal=principal.id,
            role=principal.role,
            device_id=device_id,
            action=action,
            **details,
        )
        # Coalesced like every refusal (no seq): a flood of them stays a few entries.
        reason = f"your role does not allow {action}"
        await session.denied(action, resource, reason, kind=kind, **details)
        await session.error(ErrorCode.FORBIDDEN, reason)
        return None

    async def _locked_for_me(self, device_id: str) -> bool:
        """Take or renew the device's lock; False (and ``locked`` sent) when another holds it."""
        session = self.session
        try:
            outcome, holder = await self.lock.claim(device_id, self.holder())
        except Exception as exc:
            # Unknown lock state: refuse to move (a stop still passes).
            emit("control.lock_failed", device_id=device_id, error=type(exc).__name__)
            await session.error(ErrorCode.OFFLINE, "the control lock is unavailable; try again")
            return False
        if outcome is not Claim.REFUSED:
            self._hold(device_id)
            return True
        name = holder["name"] if holder else "another operator"
        emit("control.locked", principal=session.require().id, device_id=device_id)
        await session.error(ErrorCode.LOCKED, f"{name} is driving this device", holder=holder)
        return False

    def _hold(self, device_id: str) -> None:
        """Arm (or re-arm) the idle timer of a lock this socket holds."""
        timer = self.held.pop(device_id, None)
        if timer is not None:
            timer.cancel()
        self.held[device_id] = self.session.clock.call_later(
            self.lock.idle, lambda: self._spawn(self._idle(device_id))
        )

    async def _idle(self, device_id: str) -> None:
        if device_id not in self.held:
            return
        left = await self.lock.expire(device_id, self.holder())
        if left is None:
            self.held.pop(device_id, None)
            await self.gestures.end(device_id)
            return
        # Renewed elsewhere or the clocks differ a little: look again when it is due.
        self.held[device_id] = self.session.clock.call_later(
            left, lambda: self._spawn(self._idle(device_id))
        )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward(self, device_id: str, command: str, args: dict[str, Any], seq: int) -> None:
        # Bound by the server: the device learns who really sent the command.
        sent = server.control_from(self.holder(), command, args, seq)
        await self.session.bus.publish(f"device:{device_id}", sent)

    async def _write(self, gesture: Gesture) -> None:
        await self.session.audit("control.command", gesture.device_id, **gesture.details())
