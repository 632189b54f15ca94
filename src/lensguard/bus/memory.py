"""The embedded bus: asyncio queues in one process."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from lensguard.bus.base import QUEUE_SIZE, decode, encode

_CLOSED = object()


class MemorySubscription:
    """One listener's bounded queue."""

    def __init__(self, bus: MemoryBus, channels: tuple[str, ...]) -> None:
        self._bus = bus
        self.channels = channels
        self.queue: asyncio.Queue[object] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0
        self._closed = False

    def offer(self, message: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()  # drop the oldest: a slow reader never blocks publishers
            self.dropped += 1
        self.queue.put_nowait(message)

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await self.queue.get()
            if item is _CLOSED:
                return
            if isinstance(item, dict):
                yield item

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bus.detach(self)
            if self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(_CLOSED)


class MemoryBus:
    """Channels → subscriptions, all in this process."""

    def __init__(self) -> None:
        self._subs: dict[str, set[MemorySubscription]] = defaultdict(set)

    async def publish(self, channel: str, message: dict[str, Any]) -> int:
        # Round-trip through JSON so both buses accept and deliver exactly the same things.
        copy = decode(encode(message))
        targets = list(self._subs.get(channel, ()))
        for sub in targets:
            sub.offer(dict(copy))
        return len(targets)

    async def subscribe(self, *channels: str) -> MemorySubscription:
        sub = MemorySubscription(self, channels)
        for channel in channels:
            self._subs[channel].add(sub)
        return sub

    def detach(self, sub: MemorySubscription) -> None:
        for channel in sub.channels:
            listeners = self._subs.get(channel)
            if listeners is not None:
                listeners.discard(sub)
                if not listeners:
                    del self._subs[channel]

    async def close(self) -> None:
        for sub in {s for subs in self._subs.values() for s in subs}:
            await sub.close()
