"""The cluster bus: Redis pub/sub, so a viewer on node A reaches a device on node B."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from lensguard.bus.base import QUEUE_SIZE, BusError, decode, encode
from lensguard.logs import get_logger

log = get_logger("lensguard.bus")
_CLOSED = object()


class RedisSubscription:
    """A pub/sub connection pumping into a bounded local queue."""

    def __init__(self, pubsub: PubSub, prefix: str) -> None:
        self._pubsub = pubsub
        self._prefix = prefix
        self.queue: asyncio.Queue[object] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0
        self._finished = False
        self._task = asyncio.create_task(self._pump())

    def _finish(self) -> None:
        """Wake the reader exactly once, whether the pump ended or never started."""
        if self._finished:
            return
        self._finished = True
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(_CLOSED)

    async def _pump(self) -> None:
        try:
            async for raw in self._pubsub.listen():
                if raw.get("type") != "message":
                    continue
                try:
                    message = decode(raw["data"])
                except ValueError:
                    log.warning("bus_message_malformed")
                    continue
                if self.queue.full():
                    self.queue.get_nowait()
                    self.dropped += 1
                self.queue.put_nowait(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("bus_subscription_lost", error=type(exc).__name__)
        finally:
            self._finish()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await self.queue.get()
            if item is _CLOSED:
                return
            if isinstance(item, dict):
                yield item

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._finish()
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]


class RedisBus:
    """Channels are Redis pub/sub channels under a prefix."""

    def __init__(self, redis: Redis, *, prefix: str = "lg:bus:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._subs: set[RedisSubscription] = set()

    async def publish(self, channel: str, message: dict[str, Any]) -> int:
        try:
            return int(await self._redis.publish(self._prefix + channel, encode(message)))
        except ValueError:
            raise
        except Exception as exc:
            raise BusError("the message bus (Redis) is unreachable") from exc

    async def subscribe(self, *channels: str) -> RedisSubscription:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*(self._prefix + c for c in channels))
        except Exception as exc:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise BusError("the message bus (Redis) is unreachable") from exc
        sub = RedisSubscription(pubsub, self._prefix)
        self._subs.add(sub)
        return sub

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.close()
        self._subs.clear()
