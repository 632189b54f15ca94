"""The SMS sink against a real loopback HTTP server standing in for a gateway."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import secrets
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qs

import pytest
from pydantic import ValidationError

from lensguard.clock import ManualClock
from lensguard.errors import ConfigurationError
from lensguard.monitor.alerts.config import AlertsSettings, SmsAlertSettings
from lensguard.monitor.alerts.errors import DeliveryFailed, UnsafeDestination
from lensguard.monitor.alerts.event import SecurityEvent
from lensguard.monitor.alerts.runtime import build_alerts
from lensguard.monitor.alerts.sms import SIGNATURE_HEADER, SmsAuth, SmsSink
from lensguard.monitor.alerts.smsformat import mask_number
from lensguard.monitor.events import bound, emit
from lensguard.monitor.publisher import EventPublisher
from lensguard.settings import Severity
from tests.monitor.receivers import HttpReceiver, Response

ADA = "+447700900123"
BOB = "+14155550199"
TEMPLATE = {"to": "$to", "message": "$text", "priority": "$severity", "from": "lensguard"}


def make_sink(url: str, clock: ManualClock, **options: Any) -> SmsSink:
    settings: dict[str, Any] = {
        "allow_http": True,
        "allow_private": True,
        "backoff": 1.0,
        "timeout": 5.0,
        "clock": clock,
    }
    settings.update(options)
    recipients = settings.pop("recipients", [ADA])
    auth = settings.pop("auth", SmsAuth("bearer", b"gateway-token-1"))
    return SmsSink(url, recipients, TEMPLATE, auth, **settings)


async def on_clock(clock: ManualClock, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work``, moving the clock past every backoff it sleeps on."""
    task = asyncio.ensure_future(work)
    async with asyncio.timeout(10):
        while not task.done():
            if clock.pending:
                await clock.advance(120)
            else:
                await asyncio.wait({task}, timeout=0.01)
    await task


async def test_bearer_json_body_carries_number_text_and_severity(
    event: SecurityEvent, manual_clock: ManualClock
) -> None:
    async with HttpReceiver() as receiver:
        sink = make_sink(receiver.url, manual_clock, recipients=[ADA, BOB])
        try:
            await on_clock(manual_clock, sink.send(event))
        finally:
            await sink.aclose()
    first, second = receiver.requests
    assert first.headers["authorization"] == "Bearer gateway-token-1"
    assert first.headers["content-type"] == "application/json"
    body = first.json()
    assert body["to"] == ADA and second.json()["to"] == BOB
    assert body["priority"] == "high" and body["from"] == "lensguard"
    assert body["message"].startswith("[high] auth.login_failed")


async def test_hmac_signature_verifies_over_the_form_body(
    event: SecurityEvent, manual_clock: ManualClock
) -> None:
    key = secrets.token_bytes(32)
    async with HttpReceiver() as receiver:
        sink = make_sink(receiver.url, manual_clock, auth=SmsAuth("hmac", key), encoding="form")
        try:
            await on_clock(manual_clock, sink.send(event))
        finally:
            await sink.aclose()
    (request,) = receiver.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in request.headers
    assert parse_qs(request.body.decode())["to"] == [ADA]
    t, v1 = (part.split("=", 1)[1] for part in request.headers[SIGNATURE_HEADER.lower()].split(","))
    assert int(t) == int(manual_clock.time())
    expected = hmac.new(key, f"{t}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(v1, expected)


async def test_long_text_is_cut_with_an_ellipsis(manual_clock: ManualClock) -> None:
    event = SecurityEvent.create("auth.login_failed", Severity.CRITICAL, detail="x" * 1000)
    async with HttpReceiver() as receiver:
        sink = make_sink(receiver.url, manual_clock, max_length=160)
        try:
            await on_clock(manual_clock, sink.send(event))
        finally:
            await sink.aclose()
    message = receiver.requests[0].json()["message"]
    assert len(message) == 160 and message.endswith("\u2026")


async def test_an_escalation_level_texts_its_own_numbers(manual_clock: ManualClock) -> None:
    raised = SecurityEvent.create(
        "incident.escalated", Severity.CRITICAL, level=2, level_name="security-lead"
    )
    unmapped = SecurityEvent.create(
        "incident.escalated", Severity.CRITICAL, level=1, level_name="on-call"
    )
    other = SecurityEvent.create(
        "audit.chain_broken", Severity.CRITICAL, level_name="security-lead"
    )
    async with HttpReceiver() as receiver:
        sink = make_sink(receiver.url, manual_clock, escalation={"security-lead": [BOB]})
        try:
            for event in (raised, unmapped, other):
                await on_clock(manual_clock, sink.send(event))
        finally:
            await sink.aclose()
    assert [r.json()["to"] for r in receiver.requests] == [BOB, ADA, ADA]
    assert receiver.requests[0].json()["message"].startswith("[critical] incident.escalated")


async def test_a_5xx_is_retried_until_the_gateway_accepts(
    event: SecurityEvent, manual_clock: ManualClock
) -> None:
    async with HttpReceiver() as receiver:
        receiver.responses = [Response(503), Response(429, {"Retry-After": "5"})]
        sink = make_sink(receiver.url, manual_clock)
        try:
            await on_clock(manual_clock, sink.send(event))
        finally:
            await sink.aclose()
    assert len(receiver.requests) == 3
    assert receiver.requests[0].body == receiver.requests[2].body


async def test_a_4xx_is_permanent_and_not_retried(
    event: SecurityEvent, manual_clock: ManualClock
) -> None:
    async with HttpReceiver() as receiver:
        receiver.responses = [Response(400), Response(400)]
        sink = make_sink(receiver.url, manual_clock, recipients=[ADA, BOB])
        try:
            with pytest.raises(DeliveryFailed) as raised:
                await on_clock(manual_clock, sink.send(event))
        finally:
            await sink.aclose()
    assert len(receiver.requests) == 2  # one per recipient, no retries
    assert ADA not in str(raised.value) and mask_number(ADA) in str(raised.value)


async def test_gives_up_after_max_attempts(event: SecurityEvent, manual_clock: ManualClock) -> None:
    async with HttpReceiver() as receiver:
        receiver.responses = [Response(500)] * 5
        sink = make_sink(receiver.url, manual_clock, max_attempts=3)
        try:
            with pytest.raises(DeliveryFailed, match="after 3 attempts"):
                await on_clock(manual_clock, sink.send(event))
        finally:
            await sink.aclose()
    assert len(receiver.requests) == 3


async def test_rate_limit_per_recipient_and_numbers_masked_in_logs(
    event: SecurityEvent, manual_clock: ManualClock, json_logging: io.StringIO
) -> None:
    async with HttpReceiver() as receiver:
        sink = make_sink(receiver.url, manual_clock, rate_per_recipient=2, rate_window=60)
        try:
            for _ in range(3):
                await on_clock(manual_clock, sink.send(event))
            assert len(receiver.requests) == 2
            await manual_clock.advance(61)
            await on_clock(manual_clock, sink.send(event))
        finally:
            await sink.aclose()
    assert len(receiver.requests) == 3
    logs = json_logging.getvalue()
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert any(line.get("event") == "sms_rate_limited" for line in lines)
    assert ADA not in logs and "gateway-token-1" not in logs
    assert mask_number(ADA) in logs


async def test_below_min_severity_sends_nothing(manual_clock: ManualClock) -> None:
    async with HttpReceiver() as receiver:
        sink = make_sink(receiver.url, manual_clock, min_severity=Severity.HIGH)
        try:
            await sink.send(SecurityEvent.create("auth.login_failed", Severity.LOW))
        finally:
            await sink.aclose()
    assert receiver.requests == []


def test_plain_http_is_refused_outside_dev(manual_clock: ManualClock) -> None:
    with pytest.raises(UnsafeDestination, match="https"):
        make_sink("http://127.0.0.1:9/send", manual_clock, allow_http=False)


def settings(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "url": "https://sms.example.net/v1/send",
        "recipients": [ADA],
        "template": TEMPLATE,
        "auth": "bearer",
        "secret": "gateway-token-1",
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"recipients": ["07700900123"]}, "is not an E.164 number"),
        ({"recipients": [ADA, ADA]}, "must not repeat"),
        ({"template": {"to": "$phone"}}, "allowed: $severity, $text, $to"),
        ({"auth": "hmac", "secret": "short"}, "at least 32 bytes"),
        ({"url": "ftp://sms.example.net/"}, "is not http or https"),
        ({"max_length": 1000}, "less than or equal to 480"),
        ({"secret": "tok\r\nX-Injected: 1"}, "visible ASCII"),
        ({"secret": ""}, "visible ASCII"),
        ({"escalation": {"on-call": []}}, "1 to 50 numbers"),
        ({"escalation": {"on-call": ["07700900123"]}}, "is not an E.164 number"),
    ],
)
def test_settings_refuse_bad_values_clearly(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("$", r"\$")) as raised:
        SmsAlertSettings.model_validate(settings(**overrides))
    assert "0770090" not in str(raised.value)  # a bad number is echoed masked only
    with pytest.raises(ValidationError) as nested:
        AlertsSettings.model_validate({"sms": settings(**overrides)})
    # What the command line prints: the location and the message, never the input.
    printed = " ".join(f"{err['loc']} {err['msg']}" for err in nested.value.errors())
    assert message in printed and "0770090" not in printed and "short" not in printed
    assert "gateway-token-1" not in repr(SmsAlertSettings.model_validate(settings()))


def test_build_alerts_requires_https_unless_dev(tmp_path: Any) -> None:
    config = AlertsSettings.model_validate({"sms": settings(url="http://sms.example.net/send")})
    with pytest.raises(ConfigurationError, match="https"):
        build_alerts(config, var_dir=tmp_path, threshold=Severity.LOW)
    alerts = build_alerts(config, var_dir=tmp_path, threshold=Severity.LOW, dev=True)
    assert [sink.name for sink in alerts.sinks] == ["sms http://sms.example.net"]


async def test_emitted_alert_reaches_the_gateway_through_the_dispatcher(tmp_path: Any) -> None:
    async with HttpReceiver() as gateway:
        config = AlertsSettings.model_validate(
            {"sms": settings(url=gateway.url, allow_private=True, min_severity="critical")}
        )
        alerts = build_alerts(config, var_dir=tmp_path, threshold=Severity.HIGH, dev=True)
        publisher = EventPublisher()
        await alerts.start(publisher)
        try:
            with bound(publisher):
                emit("auth.mfa_disabled", severity=Severity.HIGH, user_id="u1")
                emit("audit.chain_broken", severity=Severity.CRITICAL, table="audit")
            await gateway.wait_for_requests(1)
        finally:
            await alerts.stop()
    (request,) = gateway.requests
    assert request.json()["to"] == ADA
    assert request.json()["message"].startswith("[critical] audit.chain_broken")
