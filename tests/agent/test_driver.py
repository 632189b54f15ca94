"""The dead-man timer stops a moving robot after silence and when the link drops."""

import asyncio

import pytest

from lensguard.agent.backoff import Backoff
from lensguard.agent.driver import DeadManTimer, Driver, SimulatedRobot


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StubbornDriver:
    """A driver whose first stop fails (a flaky motor controller)."""

    def __init__(self) -> None:
        self.failures = 1
        self.stops = 0

    def move(self, linear: float, angular: float) -> None:
        pass

    def stop(self) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("bus error")
        self.stops += 1

    def ptz(self, pan: float, tilt: float, zoom: float) -> None:
        pass


def names(robot: SimulatedRobot) -> list[str]:
    return [c.name for c in robot.commands]


def test_silence_while_moving_stops_the_robot() -> None:
    clock = FakeClock()
    robot = SimulatedRobot(clock=clock)
    deadman = DeadManTimer(robot, timeout=0.5, clock=clock)
    robot.move(0.5, 0.0)
    deadman.fed(moving=True)
    clock.now += 0.3
    assert not deadman.check()
    deadman.fed()  # another command keeps it alive
    clock.now += 0.45
    assert not deadman.check()
    clock.now += 0.05
    assert deadman.check()
    assert names(robot) == ["move", "stop"] and not robot.moving
    assert list(deadman.stops) == ["silence"]
    clock.now += 5
    assert not deadman.check()  # stopped once; nothing more to do


def test_silence_while_standing_still_does_nothing() -> None:
    clock = FakeClock()
    robot = SimulatedRobot(clock=clock)
    deadman = DeadManTimer(robot, timeout=0.5, clock=clock)
    deadman.fed(moving=False)
    clock.now += 60
    assert not deadman.check()
    assert names(robot) == []


def test_link_loss_stops_at_once() -> None:
    clock = FakeClock()
    robot = SimulatedRobot(clock=clock)
    deadman = DeadManTimer(robot, timeout=0.5, clock=clock)
    robot.move(1.0, 0.0)
    deadman.fed(moving=True)
    deadman.link_lost()
    assert names(robot) == ["move", "stop"]
    assert list(deadman.stops) == ["link_lost"]


def test_a_failed_stop_is_retried() -> None:
    clock = FakeClock()
    driver = StubbornDriver()
    deadman = DeadManTimer(driver, timeout=0.5, clock=clock)
    deadman.link_lost()
    assert driver.stops == 0 and deadman.moving
    clock.now += 0.5
    assert deadman.check()
    assert driver.stops == 1


async def test_the_watchdog_loop_checks_by_itself() -> None:
    clock = FakeClock()
    robot = SimulatedRobot(clock=clock)
    deadman = DeadManTimer(robot, timeout=0.5, clock=clock)
    deadman.fed(moving=True)
    watchdog = asyncio.create_task(deadman.run(interval=0.01))
    clock.now += 1
    for _ in range(100):
        if deadman.stops:
            break
        await asyncio.sleep(0.01)
    watchdog.cancel()
    assert list(deadman.stops) == ["silence"]


def test_the_simulated_robot_is_a_driver() -> None:
    assert isinstance(SimulatedRobot(), Driver)
    with pytest.raises(ValueError, match="positive"):
        DeadManTimer(SimulatedRobot(), timeout=0)


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=30.0)
    delays = [backoff.next_delay() for _ in range(12)]
    ceilings = [min(30.0, 0.5 * 2**n) for n in range(12)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays) <= 30.0
    backoff.reset()
    assert backoff.next_delay() <= 0.5
