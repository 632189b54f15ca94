import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from lensguard.monitor.alerts.event import SecurityEvent
from lensguard.monitor.alerts.forwarder import QUEUE_FULL_EVENT, SiemForwarder
from lensguard.monitor.alerts.queue import DurableQueue
from lensguard.monitor.alerts.sink import BatchSink
from lensguard.monitor.alerts.syslog import SyslogSink
from lensguard.monitor.alerts.webhook import WebhookSink
from lensguard.settings import Severity
from tests.harness.ports import free_port
from tests.monitor.receivers import (
    DeduplicatingSiem,
    HttpReceiver,
    SyslogTcpReceiver,
    eventually,
)


@asynccontextmanager
async def forwarder(
    path: Path, sink: BatchSink, *, max_events: int = 100_000, **options: Any
) -> AsyncIterator[SiemForwarder]:
    """One 'process lifetime': queue and forwarder over ``path``, torn down on exit."""
    queue = DurableQueue(path, max_events=max_events)
    await queue.open()
    fwd = SiemForwarder(queue, sink, backoff=0.01, max_backoff=0.05, **options)
    await fwd.start()
    try:
        yield fwd
    finally:
        await fwd.stop()
        await sink.aclose()
        await queue.close()


def http_sink(port: int, secret: bytes) -> WebhookSink:
    return WebhookSink(
        f"http://127.0.0.1:{port}/siem", secret, allow_private=True, max_attempts=1, timeout=2
    )


async def preload(path: Path, events: list[SecurityEvent]) -> None:
    queue = DurableQueue(path)
    await queue.open()
    try:
        await queue.put(events)
    finally:
        await queue.close()


async def queued(path: Path) -> list[int]:
    queue = DurableQueue(path)
    await queue.open()
    try:
        return [item.seq for item in await queue.peek(100_000)]
    finally:
        await queue.close()


async def test_receiver_down_then_restart_delivers_each_event_once_in_order(
    tmp_path: Path, secret: bytes
) -> None:
    path, port = tmp_path / "siem.sqlite3", free_port()
    events = [SecurityEvent.create(f"auth.event_{i}", Severity.LOW, n=i) for i in range(250)]
    async with forwarder(path, http_sink(port, secret)) as fwd:
        seqs = [await fwd.enqueue(e) for e in events[:200]]

        # The log handler's path: offered from another thread, persisted by the intake task.
        def offer_rest() -> None:
            for e in events[200:]:
                fwd.offer(e)

        worker = threading.Thread(target=offer_rest)
        worker.start()
        worker.join()
        await eventually(lambda: fwd.failures >= 3)
    # "Process" gone; the events are on disk, nothing was lost or delivered.
    assert await queued(path) == [*seqs, *range(seqs[-1] + 1, seqs[-1] + 51)]
    siem = DeduplicatingSiem(secret)
    async with (
        HttpReceiver(port=port, responder=siem) as receiver,
        forwarder(path, http_sink(port, secret)) as fwd,
    ):
        await receiver.wait_until(lambda: len(siem.stored) == 250)
        await eventually(lambda: fwd.delivered == 250)
    assert [item["seq"] for item in siem.stored] == list(range(1, 251))
    assert [item["id"] for item in siem.stored] == [e.id for e in events]
    assert siem.duplicates == 0
    assert [len(batch) for batch in siem.batches] == [100, 100, 50]
    assert await queued(path) == []


async def test_crash_between_send_and_ack_resends_and_receiver_deduplicates(
    tmp_path: Path, secret: bytes
) -> None:
    path, port = tmp_path / "siem.sqlite3", free_port()
    events = [SecurityEvent.create(f"device.event_{i}") for i in range(150)]
    siem = DeduplicatingSiem(secret)
    siem.hold = asyncio.Event()
    await preload(path, events)
    async with (
        HttpReceiver(port=port, responder=siem) as receiver,
        forwarder(path, http_sink(port, secret)),
    ):
        await receiver.wait_until(lambda: len(siem.batches) == 1)
    # Leaving the block killed the delivery task while it waited for the ack.
    assert siem.batches == [list(range(1, 101))]
    assert len(await queued(path)) == 150
    siem.hold = None
    async with (
        HttpReceiver(port=port, responder=siem) as receiver,
        forwarder(path, http_sink(port, secret)) as fwd,
    ):
        await receiver.wait_until(lambda: len(siem.stored) == 150 and len(siem.batches) == 3)
        await eventually(lambda: fwd.delivered == 150)
    assert siem.batches[1] == list(range(1, 101))  # the unacknowledged batch, resent whole
    assert siem.duplicates == 100
    assert [item["seq"] for item in siem.stored] == list(range(1, 151))
    assert [item["id"] for item in siem.stored] == [e.id for e in events]
    assert await queued(path) == []


async def test_full_queue_drops_oldest_and_says_so_once(tmp_path: Path, secret: bytes) -> None:
    path = tmp_path / "siem.sqlite3"
    with capture_logs() as logs:
        async with forwarder(path, http_sink(free_port(), secret), max_events=5) as fwd:
            for i in range(8):
                await fwd.enqueue(SecurityEvent.create(f"e{i}"))
            assert fwd.stats()["dropped"] == 3
    assert await queued(path) == [4, 5, 6, 7, 8]
    reports = [entry for entry in logs if entry["event"] == QUEUE_FULL_EVENT]
    # Throttled: the report is itself a security event headed for the same full queue.
    assert reports == [
        {
            "event": QUEUE_FULL_EVENT,
            "security_event": True,
            "severity": "high",
            "dropped": 1,
            "last_dropped_seq": 1,
            "max_events": 5,
            "policy": "drop-oldest",
            "log_level": "warning",
        }
    ]


async def test_seq_keeps_growing_after_the_queue_empties(tmp_path: Path) -> None:
    path = tmp_path / "siem.sqlite3"
    queue = DurableQueue(path)
    await queue.open()
    first = await queue.put([SecurityEvent.create("a"), SecurityEvent.create("b")])
    await queue.ack(first.seqs[-1])
    await queue.close()
    await queue.open()
    try:
        # A receiver dedups by seq: reusing 1 after a restart would silently drop an event.
        assert (await queue.put([SecurityEvent.create("c")])).seqs == [3]
    finally:
        await queue.close()


async def test_an_unreadable_row_is_sent_as_a_stand_in(tmp_path: Path) -> None:
    path = tmp_path / "siem.sqlite3"
    queue = DurableQueue(path)
    await queue.open()
    await queue.put([SecurityEvent.create("ok")])
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO siem_queue (event) VALUES ('not json')")
    raw.close()
    try:
        items = await queue.peek(10)
    finally:
        await queue.close()
    assert [(i.seq, i.event.name) for i in items] == [(1, "ok"), (2, "siem.unreadable_entry")]


async def test_forwarding_over_tcp_syslog_carries_seq(tmp_path: Path) -> None:
    async with SyslogTcpReceiver() as receiver:
        sink = SyslogSink("127.0.0.1", receiver.port, transport="tcp", hostname="gw")
        async with forwarder(tmp_path / "q.sqlite3", sink, batch_size=2) as fwd:
            for i in range(5):
                await fwd.enqueue(SecurityEvent.create(f"e{i}"))
            await receiver.wait_for_frames(5)
            await eventually(lambda: fwd.delivered == 5)
    assert [b'seq="%d"' % n in frame for n, frame in enumerate(receiver.frames, 1)] == [True] * 5


@pytest.mark.parametrize("size", [0, 10_001])
def test_batch_size_is_bounded(tmp_path: Path, size: int) -> None:
    with pytest.raises(ValueError, match="batch_size must be between 1 and 10000"):
        SiemForwarder(DurableQueue(tmp_path / "q"), SyslogSink("h", 1), batch_size=size)
