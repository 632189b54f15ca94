"""The shared periodic loop: a step per interval on the clock, failures survived."""

from __future__ import annotations

import asyncio

from lensguard.clock import ManualClock
from lensguard.periodic import Periodic


async def test_a_failed_step_is_counted_and_the_next_turn_still_comes(
    manual_clock: ManualClock,
) -> None:
    outcomes: list[int | Exception] = [RuntimeError("database away"), 7]
    failed: list[str] = []

    async def step() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    every = Periodic(
        step, clock=manual_clock, interval=60, on_failure=lambda e: failed.append(str(e))
    )
    every.start()
    try:
        await manual_clock.advance(59)
        assert every.runs == 0  # it sleeps first
        await manual_clock.advance(1)
        assert (every.runs, every.failures, failed) == (1, 1, ["database away"])
        await manual_clock.advance(60)
        assert (every.runs, every.failures) == (2, 1)
    finally:
        await every.stop()
    assert manual_clock.pending == 0


async def test_first_at_start_turns_at_once_and_turn_returns_the_result(
    manual_clock: ManualClock,
) -> None:
    async def step() -> str:
        return "done"

    every = Periodic(step, clock=manual_clock, interval=60, on_failure=print, first_at_start=True)
    every.start()
    try:
        await manual_clock.advance(0)
        assert every.runs == 1
        assert await every.turn() == "done"
    finally:
        await every.stop()


async def test_stop_waits_for_a_turn_in_progress(manual_clock: ManualClock) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[bool] = []

    async def step() -> None:
        started.set()
        await release.wait()
        finished.append(True)

    every = Periodic(step, clock=manual_clock, interval=60, on_failure=print)
    every.start()
    await manual_clock.advance(60)
    await asyncio.wait_for(started.wait(), timeout=5)
    stopping = asyncio.ensure_future(every.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # the shielded turn is not cut off
    release.set()
    await asyncio.wait_for(stopping, timeout=5)
    assert finished == [True]
    assert every.runs == 1
