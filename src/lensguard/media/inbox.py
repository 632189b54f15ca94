"""``BusInbox``: a bus channel of a relay's own, with waiters for specific replies."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from lensguard.bus.base import Bus, Subscription
from lensguard.logs import get_logger

log = get_logger("lensguard.media")


class BusInbox:
    """A bus channel of our own, with waiters for specific replies."""

    def __init__(self, bus: Bus, name: str) -> None:
        self.bus = bus
        self.id = f"{name}-{secrets.token_urlsafe(9)}"
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[Any]]] = []
        self.on_message: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    async def open(self) -> None:
        self._sub = await self.bus.subscribe(f"conn:{self.id}")
        self._task = asyncio.create_task(self._pump(self._sub))

    async def _pump(self, sub: Subscription) -> None:
        async for message in sub:
            for match, future in list(self._waiters):
                if not future.done() and match(message):
                    future.set_result(message)
                    break
            else:
                if self.on_message is not None:
                    try:
                        await self.on_message(message)
                    except Exception as exc:
                        log.warning("relay_message_failed", error=type(exc).__name__)

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], limit: float) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (match, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, limit)
        finally:
            self._waiters.remove(entry)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._sub is not None:
            await self._sub.close()
