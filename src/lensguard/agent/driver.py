"""What the agent drives: the ``Driver`` protocol, a simulated robot, the dead-man timer.

``move`` sets velocities that last until the next command, so a robot must stop by
itself when commands stop coming: the dead-man timer calls ``stop()`` when a moving
robot hears nothing for ``timeout`` seconds, and at once when the signaling link
drops. ``ptz`` sets an absolute camera pose, which is safe to hold.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lensguard.agent.scene import Viewport
from lensguard.logs import get_logger

log = get_logger("lensguard.agent.driver")
Clock = Callable[[], float]


@runtime_checkable
class Driver(Protocol):
    """The robot or camera hardware; velocities in [-1, 1], zoom in [0, 1]."""

    def move(self, linear: float, angular: float) -> None:
        """Drive at these velocities until told otherwise."""

    def stop(self) -> None:
        """Stop moving now; must be safe to call at any time, repeatedly."""

    def ptz(self, pan: float, tilt: float, zoom: float) -> None:
        """Point the camera: absolute pan, tilt and zoom."""


@dataclass(frozen=True)
class RobotCommand:
    """One call the simulated robot received."""

    name: str
    linear: float = 0.0
    angular: float = 0.0
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0
    at: float = 0.0


class SimulatedRobot:
    """A robot without hardware: records commands and moves the synthetic scene's view."""

    SPEED = 240.0
    """Pixels per second the view scrolls at full linear or angular speed."""
    PTZ_REACH = 160.0
    """Pixels the view shifts at full pan or tilt."""

    def __init__(self, clock: Clock = time.monotonic, history: int = 1000) -> None:
        self._clock = clock
        self.commands: deque[RobotCommand] = deque(maxlen=history)
        self._linear = 0.0
        self._angular = 0.0
        self._x = 0.0
        self._y = 0.0
        self._pan = 0.0
        self._tilt = 0.0
        self._zoom = 0.0
        self._since = clock()

    @property
    def moving(self) -> bool:
        """Whether the robot has a non-zero velocity."""
        return self._linear != 0.0 or self._angular != 0.0

    def _advance(self) -> None:
        now = self._clock()
        elapsed = now - self._since
        self._since = now
        self._x += self._angular * self.SPEED * elapsed
        self._y -= self._linear * self.SPEED * elapsed

    def move(self, linear: float, angular: float) -> None:
        """Set the velocities."""
        self._advance()
        self._linear, self._angular = linear, angular
        self.commands.append(RobotCommand("move", linear, angular, at=self._since))

    def stop(self) -> None:
        """Zero the velocities."""
        self._advance()
        self._linear = self._angular = 0.0
        self.commands.append(RobotCommand("stop", at=self._since))

    def ptz(self, pan: float, tilt: float, zoom: float) -> None:
        """Point the simulated camera."""
        self._advance()
        self._pan, self._tilt, self._zoom = pan, tilt, zoom
        self.commands.append(RobotCommand("ptz", pan=pan, tilt=tilt, zoom=zoom, at=self._since))

    def viewport(self) -> Viewport:
        """Where the camera looks now (the synthetic scene calls this every frame)."""
        self._advance()
        return Viewport(
            x=self._x + self._pan * self.PTZ_REACH,
            y=self._y + self._tilt * self.PTZ_REACH,
            zoom=self._zoom,
        )


class DeadManTimer:
    """Stops the driver when a moving robot's commands go silent or the link drops."""

    def __init__(
        self,
        driver: Driver,
        timeout: float = 0.5,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if timeout <= 0:
            raise ValueError("the dead-man timeout must be positive")
        self.driver = driver
        self.timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self.moving = False
        self.stops: deque[str] = deque(maxlen=100)
        """Why the timer stopped the robot, oldest first (``silence``, ``link_lost``, ...)."""

    def fed(self, *, moving: bool | None = None) -> None:
        """A command arrived; ``moving`` says whether the robot now moves (None: unchanged)."""
        self._last = self._clock()
        if moving is not None:
            self.moving = moving

    def check(self) -> bool:
        """Stop the robot if it moves and heard nothing for ``timeout``; True if it stopped."""
        if self.moving and self._clock() - self._last >= self.timeout:
            return self.trip("silence")
        return False

    def link_lost(self) -> None:
        """The signaling link dropped: nobody can steer or stop the robot any more."""
        self.trip("link_lost")

    def trip(self, reason: str) -> bool:
        """Stop the robot now; True when the driver accepted the stop."""
        try:
            self.driver.stop()
        except Exception as exc:
            # Count as moving so the next check tries again: stopping must not give up.
            log.error("deadman.stop_failed", reason=reason, error=type(exc).__name__)
            self.moving = True
            return False
        self.moving = False
        self.stops.append(reason)
        log.warning("deadman.stop", reason=reason, timeout=self.timeout)
        return True

    async def run(self, interval: float | None = None) -> None:
        """Check periodically until cancelled (every ``timeout / 5`` by default)."""
        period = interval if interval is not None else self.timeout / 5
        while True:
            await self._sleep(period)
            self.check()
