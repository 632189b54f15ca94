"""Which devices are connected right now, on any node: one expiring record each.

A device that publishes gets ``presence:device:<id>`` holding its connection id in
the node-shared expiring store (Redis in cluster mode). The record is refreshed
every ``ttl / 3`` seconds while the socket is open and removed when it closes, but
only while it is still this connection's: a device that reconnected through
another node stays online. A node that dies without cleaning up leaves records
that expire on their own, so a vanished device reads online for at most ``ttl``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

from lensguard.logs import get_logger
from lensguard.store.kv import ExpiringStore

TTL = 30
"""Seconds a presence record lives without a refresh."""

log = get_logger("lensguard.signaling")

Sleep = Callable[[float], Awaitable[None]]


def presence_key(device_id: str) -> str:
    return f"presence:device:{device_id}"


class Presence:
    """Device presence records in the store every node shares."""

    def __init__(
        self, store: ExpiringStore, *, ttl: int = TTL, sleep: Sleep = asyncio.sleep
    ) -> None:
        if ttl < 3:
            raise ValueError("presence ttl must be at least 3 seconds")
        self.store = store
        self.ttl = ttl
        self._sleep = sleep

    @property
    def interval(self) -> float:
        """Seconds between refreshes: three chances before a record would expire."""
        return self.ttl / 3

    async def arrive(self, device_id: str, connection: str) -> None:
        """Record ``device_id`` as connected through ``connection`` (also a refresh)."""
        await self.store.set(presence_key(device_id), connection, ttl=self.ttl)

    async def leave(self, device_id: str, connection: str) -> bool:
        """Remove the record if it is still ``connection``'s; whether it was."""
        return await self.store.delete_if(presence_key(device_id), connection)

    async def online(self, device_ids: Iterable[str]) -> set[str]:
        """Those of ``device_ids`` that are connected now."""
        ids = list(device_ids)
        values = await self.store.get_many([presence_key(i) for i in ids])
        return {i for i, value in zip(ids, values, strict=True) if value is not None}

    async def heartbeat(self, device_id: str, connection: str) -> None:
        """Refresh the record every ``interval`` seconds until cancelled."""
        while True:
            await self._sleep(self.interval)
            try:
                await self.arrive(device_id, connection)
            except Exception as exc:  # the store is back by the next beat, or the record expires
                log.warning(
                    "presence_refresh_failed", device_id=device_id, error=type(exc).__name__
                )

    async def attend(self, device_id: str, connection: str) -> Attendance:
        """Mark the device online and keep it so until :meth:`Attendance.end`."""
        attendance = Attendance(self, device_id, connection)
        await attendance.start()
        return attendance


class Attendance:
    """One connection's presence: set, kept fresh, removed when the socket closes."""

    def __init__(self, presence: Presence, device_id: str, connection: str) -> None:
        self.presence = presence
        self.device_id = device_id
        self.connection = connection
        self._beat: asyncio.Task[None] | None = None

    @property
    def beating(self) -> bool:
        """Whether the refresh task is running."""
        return self._beat is not None and not self._beat.done()

    async def start(self) -> None:
        try:
            await self.presence.arrive(self.device_id, self.connection)
        except Exception as exc:  # presence is a display: it must not refuse the stream
            log.warning("presence_set_failed", device_id=self.device_id, error=type(exc).__name__)
        self._beat = asyncio.create_task(self.presence.heartbeat(self.device_id, self.connection))

    async def end(self) -> None:
        """Stop refreshing and remove the record unless another connection holds it now."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
            self._beat = None
        try:
            await self.presence.leave(self.device_id, self.connection)
        except Exception as exc:  # the record expires after ttl anyway
            log.warning("presence_clear_failed", device_id=self.device_id, error=type(exc).__name__)
