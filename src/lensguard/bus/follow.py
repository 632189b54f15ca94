"""Listening to one bus channel for the life of a node, across bus outages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from lensguard.bus.base import Bus
from lensguard.logs import get_logger

log = get_logger("lensguard.bus")
FIRST_DELAY = 0.5
MAX_DELAY = 30.0


async def follow(
    bus: Bus, channel: str, handle: Callable[[dict[str, Any]], Awaitable[None]]
) -> None:
    """Hand every message on ``channel`` to ``handle`` until cancelled.

    Subscribing retries with backoff while the bus is down (a node must start even
    when Redis does not answer), a lost subscription is renewed, and a message that
    ``handle`` fails on is logged and skipped rather than ending the listener.
    """
    delay = FIRST_DELAY
    while True:
        try:
            subscription = await bus.subscribe(channel)
        except Exception as exc:
            log.warning("bus_channel_unavailable", channel=channel, error=type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
            continue
        delay = FIRST_DELAY
        try:
            async for message in subscription:
                try:
                    await handle(message)
                except Exception as exc:
                    log.warning("bus_message_failed", channel=channel, error=type(exc).__name__)
        finally:
            await subscription.close()
        await asyncio.sleep(delay)  # the subscription ended (connection lost): renew it
