"""The inbox: bounded, ordered, failures counted, and it stops even if a handler
swallows the cancellation (as some Redis client versions do mid-command)."""

from __future__ import annotations

import asyncio
import contextlib

from lensguard.threats.inbox import Inbox


async def test_items_are_handled_in_order_and_failures_counted() -> None:
    seen: list[int] = []

    async def handle(item: int) -> None:
        if item == 2:
            raise ValueError("bad item")
        seen.append(item)

    inbox: Inbox[int] = Inbox(handle, name="test", maxsize=3)
    inbox.offer(0)  # not started: dropped
    inbox.start()
    for item in range(5):
        inbox.offer(item)  # room for three
    await inbox.drained()
    assert seen == [0, 1] and inbox.failed == 1 and inbox.dropped == 3
    await inbox.stop()


async def test_stop_ends_a_task_whose_handler_swallowed_the_cancellation() -> None:
    started = asyncio.Event()

    async def stubborn(_: int) -> None:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):  # swallowed: back for the next item
            await asyncio.Event().wait()  # never set: only a cancellation ends it

    inbox: Inbox[int] = Inbox(stubborn, name="test", maxsize=10)
    inbox.start()
    inbox.offer(1)
    await started.wait()
    await asyncio.wait_for(inbox.stop(), timeout=30)
    assert not inbox.running
