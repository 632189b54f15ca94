"""The SIEM queue expires by age as well as by size, on the injected clock."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from lensguard.clock import ManualClock
from lensguard.monitor.alerts.config import AlertsSettings
from lensguard.monitor.alerts.event import SecurityEvent
from lensguard.monitor.alerts.forwarder import EXPIRED_EVENT, SiemForwarder
from lensguard.monitor.alerts.queue import DurableQueue, ExpireResult
from lensguard.monitor.alerts.syslog import SyslogSink
from tests.monitor.receivers import SyslogTcpReceiver, eventually

DAY = 86_400
MAX_AGE = 30 * DAY


@asynccontextmanager
async def opened(
    path: Path, clock: ManualClock, max_age: float | None = MAX_AGE
) -> AsyncIterator[DurableQueue]:
    queue = DurableQueue(path, max_age=max_age, clock=clock)
    await queue.open()
    try:
        yield queue
    finally:
        await queue.close()


async def names(queue: DurableQueue) -> list[str]:
    return [item.event.name for item in await queue.peek(100)]


async def test_old_events_go_and_recent_ones_stay(
    tmp_path: Path, manual_clock: ManualClock
) -> None:
    async with opened(tmp_path / "siem.sqlite3", manual_clock) as queue:
        await queue.put([SecurityEvent.create("old")])
        await manual_clock.advance(20 * DAY)
        await queue.put([SecurityEvent.create("recent")])
        await manual_clock.advance(10 * DAY)  # "old" is exactly 30 days: still kept
        assert await queue.expire() == ExpireResult(0, None)
        await manual_clock.advance(1)
        assert await queue.expire() == ExpireResult(1, 1)
        assert await names(queue) == ["recent"]
        # seq keeps growing: a receiver deduplicating by seq still takes the next one
        assert (await queue.put([SecurityEvent.create("next")])).seqs == [3]


async def test_without_an_age_limit_nothing_expires(
    tmp_path: Path, manual_clock: ManualClock
) -> None:
    async with opened(tmp_path / "siem.sqlite3", manual_clock, max_age=None) as queue:
        await queue.put([SecurityEvent.create("kept")])
        await manual_clock.advance(3_650 * DAY)
        assert await queue.expire() == ExpireResult(0, None)
        assert await names(queue) == ["kept"]


async def test_a_queue_file_from_before_the_limit_ages_from_its_upgrade(
    tmp_path: Path, manual_clock: ManualClock
) -> None:
    path = tmp_path / "siem.sqlite3"
    with sqlite3.connect(path) as raw:  # the schema before queued_at
        raw.execute(
            "CREATE TABLE siem_queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)"
        )
        raw.execute(
            "INSERT INTO siem_queue (event) VALUES (?)",
            (json.dumps(SecurityEvent.create("before").to_dict()),),
        )
    raw.close()
    async with opened(path, manual_clock) as queue:
        await manual_clock.advance(MAX_AGE)
        assert await queue.expire() == ExpireResult(0, None)
        await queue.put([SecurityEvent.create("after")])
        await manual_clock.advance(1)
        assert await queue.expire() == ExpireResult(1, 1)
        assert await names(queue) == ["after"]


async def test_the_forwarder_sends_only_what_is_not_too_old(
    tmp_path: Path, manual_clock: ManualClock
) -> None:
    with capture_logs() as logs:
        async with opened(tmp_path / "siem.sqlite3", manual_clock) as queue:
            await queue.put([SecurityEvent.create("while the SIEM was away")])  # never sent
            await manual_clock.advance(MAX_AGE + 1)
            await queue.put([SecurityEvent.create("today")])
            async with SyslogTcpReceiver() as receiver:
                sink = SyslogSink("127.0.0.1", receiver.port, transport="tcp", hostname="gw")
                fwd = SiemForwarder(queue, sink)
                await fwd.start()
                try:
                    await receiver.wait_for_frames(1)
                    await eventually(lambda: fwd.delivered == 1)
                finally:
                    await fwd.stop()
                    await sink.aclose()
    assert len(receiver.frames) == 1
    assert b"today" in receiver.frames[0] and b'seq="2"' in receiver.frames[0]
    assert fwd.stats()["expired"] == 1
    (report,) = [entry for entry in logs if entry["event"] == EXPIRED_EVENT]
    assert (report["severity"], report["expired"], report["last_expired_seq"]) == ("high", 1, 1)
    assert report["max_age_days"] == 30


def test_the_setting_defaults_to_thirty_days_and_is_bounded() -> None:
    siem = {"syslog": {"host": "siem.example"}}
    config = AlertsSettings.model_validate({"siem": siem})
    assert config.siem is not None and config.siem.max_age_days == 30
    unlimited = AlertsSettings.model_validate({"siem": {**siem, "max_age_days": None}})
    assert unlimited.siem is not None and unlimited.siem.max_age_days is None
    for bad in (0, 3_651):
        with pytest.raises(ValidationError, match="max_age_days"):
            AlertsSettings.model_validate({"siem": {**siem, "max_age_days": bad}})
