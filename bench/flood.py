"""A signaling client that floods the server, in its own process, for bench_signaling.py.

It authenticates and sends valid messages as fast as ``rate`` a second allows. The
server closes it (1008) once its per-connection budget (50 a second, 100 at once) is
spent; it connects and authenticates again at once and goes on, until ``seconds`` have
passed. So the server meets the whole flood: frames to read and refuse, TLS handshakes
and authentications, for the whole window. Loopback only; stops by itself.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import ssl
import time
from multiprocessing.queues import Queue
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

BATCH_EVERY = 0.01  # seconds between bursts: rate / 100 messages each


async def _flood(url: str, cafile: str, token: str, seconds: float, rate: int) -> dict[str, int]:
    ctx = ssl.create_default_context(cafile=cafile)
    frame = json.dumps({"type": "leave"})  # valid and cheap: the server's own cost shows
    batch = max(1, int(rate * BATCH_EVERY))
    deadline = time.monotonic() + seconds
    sent = connections = closed = 0
    while time.monotonic() < deadline:
        try:
            async with connect(url, ssl=ctx, compression=None, open_timeout=10) as ws:
                connections += 1
                await ws.send(json.dumps({"type": "auth", "token": token}))
                await ws.recv()
                while time.monotonic() < deadline:
                    started = time.monotonic()
                    for _ in range(batch):
                        await ws.send(frame)
                        sent += 1
                    await asyncio.sleep(max(0.0, BATCH_EVERY - (time.monotonic() - started)))
        except (ConnectionClosed, InvalidStatus, OSError, TimeoutError):
            closed += 1
    return {"sent": sent, "connections": connections, "closed": closed}


def _run(queue: Queue[Any], url: str, cafile: str, token: str, seconds: float, rate: int) -> None:
    queue.put(asyncio.run(_flood(url, cafile, token, seconds, rate)))


class Flooder:
    """The flooding client's process: ``start`` it, then ``result`` waits for its counts."""

    def __init__(self, url: str, cafile: str, token: str, *, seconds: float, rate: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._queue: Queue[Any] = context.Queue()
        self._process = context.Process(
            target=_run, args=(self._queue, url, cafile, token, seconds, rate), daemon=True
        )
        self._seconds = seconds

    def start(self) -> None:
        self._process.start()

    def result(self) -> dict[str, int]:
        counts: dict[str, int] = self._queue.get(timeout=self._seconds + 60)
        self._process.join(timeout=10)
        return counts
