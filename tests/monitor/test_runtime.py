import io
import secrets
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lensguard.monitor.alerts.config import AlertsSettings
from lensguard.monitor.alerts.event import SecurityEvent
from lensguard.monitor.alerts.forwarder import QUEUE_FULL_EVENT, SiemForwarder
from lensguard.monitor.alerts.queue import DurableQueue
from lensguard.monitor.alerts.runtime import build_alerts
from lensguard.monitor.alerts.webhook import WebhookSink
from lensguard.monitor.event_log import log_event
from lensguard.monitor.events import bound, emit
from lensguard.monitor.publisher import EventPublisher
from lensguard.settings import Severity
from tests.harness.ports import free_port
from tests.monitor.receivers import DeduplicatingSiem, HttpReceiver, eventually


def logging_publisher() -> EventPublisher:
    publisher = EventPublisher()
    publisher.subscribe(log_event, name="log")
    return publisher


async def test_emitted_events_reach_webhook_and_siem(
    tmp_path: Path, json_logging: io.StringIO
) -> None:
    key = secrets.token_urlsafe(32)
    siem = DeduplicatingSiem(key.encode())
    async with HttpReceiver() as hook, HttpReceiver(responder=siem) as collector:
        config = AlertsSettings.model_validate(
            {
                "webhooks": [
                    {"url": hook.url, "secret": key, "allow_private": True, "backoff": 0.01}
                ],
                "siem": {
                    "http": {"url": collector.url, "secret": key, "allow_private": True},
                    "backoff": 0.01,
                    "max_backoff": 0.05,
                },
            }
        )
        alerts = build_alerts(config, var_dir=tmp_path, threshold=Severity.HIGH)
        publisher = logging_publisher()
        await alerts.start(publisher)
        try:
            with bound(publisher):
                emit("auth.login_succeeded", username="ada", password="never-leaves")
                emit("auth.mfa_disabled", severity=Severity.HIGH, user_id="u1")
            await hook.wait_for_requests(1)
            await collector.wait_until(lambda: len(siem.stored) == 2)
        finally:
            await alerts.stop()
    assert [r.json()["name"] for r in hook.requests] == ["auth.mfa_disabled"]
    assert [(i["seq"], i["name"]) for i in siem.stored] == [
        (1, "auth.login_succeeded"),
        (2, "auth.mfa_disabled"),
    ]
    assert siem.stored[0]["fields"] == {"username": "ada", "password": "***"}
    assert (tmp_path / "siem-queue.sqlite3").is_file()
    assert publisher.subscribers == ["log"]


async def test_queue_full_report_does_not_feed_itself_forever(
    tmp_path: Path, json_logging: io.StringIO, secret: bytes
) -> None:
    queue = DurableQueue(tmp_path / "q.sqlite3", max_events=3)
    await queue.open()
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/", secret, allow_private=True)
    fwd = SiemForwarder(queue, sink, backoff=0.01, max_backoff=0.05)
    publisher = logging_publisher()
    publisher.subscribe(lambda e: fwd.offer(SecurityEvent.from_published(e)), name="siem")
    try:
        with bound(publisher):  # the forwarder's task reports drops to this publisher
            await fwd.start()
            for i in range(10):
                await fwd.enqueue(SecurityEvent.create(f"e{i}"))
            # 10 events + the one report (itself a security event, so queued too) - 3 kept.
            await eventually(lambda: fwd.stats()["dropped"] == 8)
            await fwd.stop()
    finally:
        await sink.aclose()
    size = await queue.size()
    await queue.close()
    assert size == 3
    assert json_logging.getvalue().count(QUEUE_FULL_EVENT) == 1


SECRET = "k" * 40


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"webhooks": [{"url": "ftp://x.example", "secret": SECRET}]}, "scheme 'ftp'"),
        ({"webhooks": [{"url": "https://x.example", "secret": "short"}]}, "at least 32 bytes"),
        ({"webhooks": [{"url": "https://x.example", "secret": SECRET, "x": 1}]}, "Extra inputs"),
        (
            {
                "smtp": {
                    "host": "mail",
                    "sender": "a@b.example",
                    "recipients": ["c@d.example"],
                    "username": "u",
                    "password": "p",
                    "starttls": False,
                }
            },
            "smtp credentials require starttls: true",
        ),
        ({"siem": {}}, "siem needs exactly one of http or syslog"),
        ({"siem": {"syslog": {"host": "s", "transport": "udp"}}}, "'tcp' or 'tls'"),
        ({"siem": {"syslog": {"host": "s"}, "queue_file": "../x.db"}}, "plain file name"),
    ],
)
def test_settings_refuse_unsafe_or_ambiguous_configuration(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertsSettings.model_validate(config)


def test_siem_over_syslog_defaults_to_tls() -> None:
    config = AlertsSettings.model_validate({"siem": {"syslog": {"host": "siem.example"}}})
    assert config.siem is not None and config.siem.syslog is not None
    assert (config.siem.syslog.transport, config.siem.syslog.port) == ("tls", 6514)
