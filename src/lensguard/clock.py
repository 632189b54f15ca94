"""One clock for every timer: the system's in production, a hand-turned one in tests.

Everything that waits, expires or throttles reads time from a ``Clock`` and schedules
through it, so a test can jump an hour ahead with ``ManualClock.advance`` instead of
sleeping for it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time as _time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Timer(Protocol):
    """A scheduled callback that has not necessarily run yet."""

    def cancel(self) -> None:
        """Stop the callback from running (harmless if it already ran)."""


class Clock(Protocol):
    """Wall time, monotonic time, sleeping and timers, from one source."""

    def time(self) -> float:
        """Wall-clock seconds since the Unix epoch (what tokens and expiries hold)."""

    def now(self) -> datetime:
        """Wall-clock time as an aware UTC datetime."""

    def monotonic(self) -> float:
        """Seconds that never run backwards (for intervals and rate limits)."""

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock."""

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` once ``delay`` seconds have passed on this clock."""


class SystemClock:
    """The real clock: the OS for time, the running event loop for waiting."""

    def time(self) -> float:
        return _time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return _time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


class _ManualTimer:
    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


_SETTLE_ROUNDS = 10
"""Event-loop turns given to woken tasks after each due timer, so they can re-arm."""


class ManualClock:
    """A clock that moves only when a test calls ``advance``; nothing really waits.

    Wall and monotonic time move together. ``advance`` fires every timer and wakes
    every sleeper that came due, one at a time in deadline order (ties in the order
    they were scheduled), letting woken tasks run before the next one fires. A woken
    task that goes on to wait for real I/O (a database, a socket) is not waited for:
    the test awaits that outcome itself, with a timeout.
    """

    def __init__(self, start: float | None = None) -> None:
        self._wall = _time.time() if start is None else start
        self._offset = 1_000.0 - self._wall  # monotonic = wall + offset, starts at 1000
        self._queue: list[tuple[float, int, _ManualTimer]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self._wall

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall, UTC)

    def monotonic(self) -> float:
        return self._wall + self._offset

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        timer = _ManualTimer(callback)
        due = self._wall + max(0.0, delay)
        heapq.heappush(self._queue, (due, next(self._order), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await woken
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """How many timers and sleepers are still waiting."""
        return sum(1 for _, _, timer in self._queue if not timer.cancelled)

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing everything that falls due on the way."""
        if seconds < 0:
            raise ValueError("a clock cannot be turned back")
        target = self._wall + seconds
        await _settle()
        while self._queue and self._queue[0][0] <= target:
            due, _, timer = heapq.heappop(self._queue)
            if timer.cancelled:
                continue
            self._wall = max(self._wall, due)
            timer.callback()
            await _settle()
        self._wall = target


async def _settle() -> None:
    for _ in range(_SETTLE_ROUNDS):
        await asyncio.sleep(0)
