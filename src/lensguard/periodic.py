"""``Periodic``: one step every ``interval`` seconds on the app's clock, until stopped.

The schedules that run inside the app (signing-key rotation, data retention, incident
escalation) share this loop. Each turn runs the step once; an exception from it is
counted in ``failures`` and handed to ``on_failure`` (which logs and alerts in the
owner's words) and the loop goes on to the next turn, so a database outage never ends
a schedule for good. ``runs`` counts turns, failed or not, and goes up last: a test
waiting for a turn sees its outcome.

Each turn is shielded: ``stop`` cancels the sleep but waits for a turn in progress
(whole batches done, a lease released, its connection returned) instead of cutting it
off mid-query. Time comes from the injected ``Clock``, so tests turn a ``ManualClock``
instead of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from lensguard.clock import Clock

T = TypeVar("T")


class Periodic(Generic[T]):
    """Runs ``step`` every ``interval`` seconds on ``clock``; see the module.

    ``first_at_start`` runs a turn as soon as the loop starts, then sleeps; otherwise
    the loop sleeps first.
    """

    def __init__(
        self,
        step: Callable[[], Awaitable[T]],
        *,
        clock: Clock,
        interval: float,
        on_failure: Callable[[Exception], None],
        first_at_start: bool = False,
    ) -> None:
        self.step, self.clock, self.interval = step, clock, interval
        self.on_failure = on_failure
        self.first_at_start = first_at_start
        self.runs = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._turning: asyncio.Future[T | None] | None = None

    async def turn(self) -> T | None:
        """One turn: the step's result, or None when it failed. Never raises."""
        result: T | None = None
        try:
            result = await self.step()
        except Exception as exc:
            self.failures += 1
            self.on_failure(exc)
        self.runs += 1  # last: a test waiting for a turn sees its outcome
        return result

    async def _shielded_turn(self) -> None:
        self._turning = asyncio.ensure_future(self.turn())
        await asyncio.shield(self._turning)

    async def _loop(self) -> None:
        if self.first_at_start:
            await self._shielded_turn()
        while True:
            await self.clock.sleep(self.interval)
            await self._shielded_turn()

    def start(self) -> None:
        """Start the loop on the running event loop (once; again after ``stop``)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Cancel the sleep, then wait for a turn in progress to finish."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._turning is not None:
            await self._turning  # never raises: turn catches
            self._turning = None


class Scheduled:
    """Start, stop and the failure count of a schedule that runs on a ``Periodic``."""

    _every: Periodic[Any]

    @property
    def failures(self) -> int:
        return self._every.failures

    def start(self) -> None:
        self._every.start()

    async def stop(self) -> None:
        await self._every.stop()
