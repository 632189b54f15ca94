"""The one clock: the system's runs by itself, the manual one only when turned."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from lensguard.app import create_app
from lensguard.clock import Clock, ManualClock, SystemClock


def test_both_clocks_satisfy_the_protocol() -> None:
    clocks: list[Clock] = [SystemClock(), ManualClock()]
    assert [type(clock).__name__ for clock in clocks] == ["SystemClock", "ManualClock"]


def test_system_clock_reads_the_os() -> None:
    clock = SystemClock()
    before = time.time()
    assert before - 1 <= clock.time() <= time.time() + 1
    assert clock.now().tzinfo is UTC
    assert abs(clock.now().timestamp() - time.time()) < 1
    assert clock.monotonic() <= time.monotonic()


async def test_system_clock_timer_fires_and_cancels() -> None:
    clock = SystemClock()
    fired: list[str] = []
    done = asyncio.Event()

    def keep() -> None:
        fired.append("kept")
        done.set()

    clock.call_later(0, keep)
    clock.call_later(0, lambda: fired.append("cancelled")).cancel()
    await asyncio.wait_for(done.wait(), 1)
    await asyncio.sleep(0)
    assert fired == ["kept"]


def test_manual_clock_starts_where_told_and_stays_put() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    assert clock.time() == 1_800_000_000.0
    assert clock.now() == datetime.fromtimestamp(1_800_000_000.0, UTC)
    assert clock.monotonic() == 1_000.0
    assert clock.time() == 1_800_000_000.0


async def test_advance_moves_wall_and_monotonic_together() -> None:
    clock = ManualClock(start=100.0)
    await clock.advance(2.5)
    assert clock.time() == 102.5
    assert clock.monotonic() == 1_002.5
    assert clock.now() == datetime.fromtimestamp(102.5, UTC)


async def test_advance_refuses_to_turn_back() -> None:
    clock = ManualClock()
    with pytest.raises(ValueError, match="a clock cannot be turned back"):
        await clock.advance(-1)


async def test_timers_fire_in_deadline_order_at_their_deadline() -> None:
    clock = ManualClock(start=0.0)
    fired: list[tuple[str, float]] = []
    clock.call_later(3, lambda: fired.append(("c", clock.time())))
    clock.call_later(1, lambda: fired.append(("a", clock.time())))
    clock.call_later(2, lambda: fired.append(("b", clock.time())))
    clock.call_later(2, lambda: fired.append(("b2", clock.time())))
    await clock.advance(2)
    assert fired == [("a", 1.0), ("b", 2.0), ("b2", 2.0)]
    assert clock.pending == 1
    await clock.advance(10)
    assert fired[-1] == ("c", 3.0)
    assert clock.time() == 12.0
    assert clock.pending == 0


async def test_timer_not_yet_due_does_not_fire() -> None:
    clock = ManualClock(start=0.0)
    fired: list[str] = []
    clock.call_later(5, lambda: fired.append("late"))
    await clock.advance(4.999)
    assert fired == []
    await clock.advance(0.001)
    assert fired == ["late"]


async def test_cancelled_timer_never_fires() -> None:
    clock = ManualClock()
    fired: list[str] = []
    timer = clock.call_later(1, lambda: fired.append("x"))
    timer.cancel()
    assert clock.pending == 0
    await clock.advance(5)
    assert fired == []


async def test_sleeper_wakes_only_when_its_time_comes() -> None:
    clock = ManualClock(start=0.0)
    woke: list[float] = []

    async def nap() -> None:
        await clock.sleep(30)
        woke.append(clock.time())

    task = asyncio.create_task(nap())
    await clock.advance(29)
    assert woke == [] and not task.done()
    await clock.advance(1)
    assert woke == [30.0]
    await task


async def test_a_sleeper_that_sleeps_again_is_woken_within_one_advance() -> None:
    clock = ManualClock(start=0.0)
    ticks: list[float] = []

    async def every_ten() -> None:
        while True:
            await clock.sleep(10)
            ticks.append(clock.time())

    task = asyncio.create_task(every_ten())
    await clock.advance(0)  # lets the task start sleeping
    await clock.advance(35)
    assert ticks == [10.0, 20.0, 30.0]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending == 0  # a cancelled sleeper leaves no timer behind


async def test_sleep_of_zero_only_yields() -> None:
    clock = ManualClock(start=0.0)
    await clock.sleep(0)
    await clock.sleep(-1)
    assert clock.time() == 0.0
    assert clock.pending == 0


def test_create_app_uses_the_given_clock_or_the_system_one(make_settings: Any) -> None:
    clock = ManualClock()
    turned = create_app(make_settings(), clock=clock)
    assert turned.state.services.clock is clock
    plain = create_app(make_settings())
    assert isinstance(plain.state.services.clock, SystemClock)
