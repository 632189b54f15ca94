import asyncio
from typing import Any

import pytest
from structlog.testing import capture_logs

from lensguard.monitor.alerts.dispatch import AlertDispatcher, SinkStats
from lensguard.monitor.alerts.event import SecurityEvent, at_least
from lensguard.monitor.alerts.webhook import WebhookSink
from lensguard.settings import Severity
from tests.monitor.receivers import HttpReceiver, Request, Response, eventually

ORDER = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


@pytest.mark.parametrize("threshold", ORDER)
@pytest.mark.parametrize("severity", ORDER)
def test_at_least_follows_severity_order(severity: Severity, threshold: Severity) -> None:
    assert at_least(severity, threshold) == (ORDER.index(severity) >= ORDER.index(threshold))


def sink(receiver: HttpReceiver, secret: bytes, **options: Any) -> WebhookSink:
    settings: dict[str, Any] = {"allow_private": True, "backoff": 0.01, "timeout": 5.0}
    settings.update(options)
    return WebhookSink(receiver.url, secret, **settings)


async def test_threshold_filters_and_a_failing_or_stuck_sink_blocks_no_other(
    secret: bytes,
) -> None:
    stuck = asyncio.Event()

    async def never_answer(request: Request) -> Response:
        await stuck.wait()
        return Response(200)

    async with (
        HttpReceiver() as good,
        HttpReceiver() as broken,
        HttpReceiver(responder=never_answer) as hanging,
    ):
        broken.responses = [Response(500)] * 10
        sinks = [
            sink(hanging, secret),
            sink(broken, secret, max_attempts=2),
            sink(good, secret),
        ]
        broken_name = sinks[1].name
        dispatcher = AlertDispatcher(sinks, threshold=Severity.HIGH)
        await dispatcher.start()
        try:
            with capture_logs() as logs:
                for severity in ORDER:
                    dispatcher.offer(SecurityEvent.create(f"test.{severity.value}", severity))
                await good.wait_for_requests(2)
                await eventually(lambda: dispatcher.stats()[broken_name].failed == 2)
        finally:
            stuck.set()
            await dispatcher.stop()
            for each in sinks:
                await each.aclose()
    assert [r.json()["name"] for r in good.requests] == ["test.high", "test.critical"]
    stats = dispatcher.stats()
    assert stats[f"webhook http://127.0.0.1:{good.port}"] == SinkStats(sent=2)
    assert stats[f"webhook http://127.0.0.1:{broken.port}"] == SinkStats(failed=2)
    failures = [entry for entry in logs if entry["event"] == "alert_delivery_failed"]
    assert [f["alert"] for f in failures] == ["test.high", "test.critical"]
    assert failures[0]["sink"] == f"webhook http://127.0.0.1:{broken.port}"
    assert failures[0]["error"] == (
        f"DeliveryFailed: webhook http://127.0.0.1:{broken.port} failed after 2 attempts: "
        "status 500"
    )
    # Neither the URL path (often a token) nor the signing secret reaches the log.
    assert "s3cret-path" not in repr(logs)
    assert secret.hex() not in repr(logs)


async def test_offers_before_start_or_below_threshold_are_ignored(secret: bytes) -> None:
    async with HttpReceiver() as receiver:
        webhook = sink(receiver, secret)
        dispatcher = AlertDispatcher([webhook], threshold=Severity.MEDIUM)
        dispatcher.offer(SecurityEvent.create("before.start", Severity.CRITICAL))
        await dispatcher.start()
        dispatcher.offer(SecurityEvent.create("too.low", Severity.LOW))
        dispatcher.offer(SecurityEvent.create("medium", Severity.MEDIUM))
        await dispatcher.drain()
        await dispatcher.stop()
        await webhook.aclose()
    assert [r.json()["name"] for r in receiver.requests] == ["medium"]
