import hashlib
import hmac
import ipaddress
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from lensguard.monitor.alerts import signing
from lensguard.monitor.alerts.errors import DeliveryFailed, DeliveryRejected
from lensguard.monitor.alerts.event import QueuedEvent, SecurityEvent
from lensguard.monitor.alerts.webhook import UnsafeDestination, WebhookSink
from tests.harness.ports import free_port
from tests.monitor.conftest import TlsPair
from tests.monitor.receivers import HttpReceiver, Response

PUBLIC = "93.184.215.14"


class ScriptedDns:
    """A resolver answering from a script (the last answer repeats), counting lookups."""

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        return [self.script.pop(0) if len(self.script) > 1 else self.script[0]]


class UnreachableInternet(httpx.AsyncBaseTransport):
    """The network beyond this machine, where nothing answers; loopback is dialled for real.

    Tests never send a packet off the machine, so a public address the sink checked and
    dials is refused here as an unreachable host would be.
    """

    def __init__(self) -> None:
        self.dialled: list[str] = []
        self._loopback = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if ipaddress.ip_address(host).is_loopback:
            return await self._loopback.handle_async_request(request)
        self.dialled.append(host)
        raise httpx.ConnectError(f"{host} is unreachable", request=request)

    async def aclose(self) -> None:
        await self._loopback.aclose()


def fast_sink(url: str, secret: bytes, **options: Any) -> WebhookSink:
    settings: dict[str, Any] = {"allow_private": True, "backoff": 0.01, "timeout": 2.0}
    settings.update(options)
    return WebhookSink(url, secret, **settings)


async def test_alert_arrives_signed_and_the_signature_verifies(
    secret: bytes, event: SecurityEvent
) -> None:
    async with HttpReceiver() as receiver:
        sink = fast_sink(receiver.url, secret)
        try:
            await sink.send(event)
        finally:
            await sink.aclose()
    (request,) = receiver.requests
    assert (request.method, request.target) == ("POST", "/hook/s3cret-path")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    header = request.headers[signing.HEADER.lower()]
    assert signing.verify(secret, request.body, header)
    # Recomputed by hand, as a receiver in another language would.
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    assert abs(int(t) - time.time()) < 5
    mac = hmac.new(secret, f"{t}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, v1)
    assert request.json() == event.to_dict()
    assert not signing.verify(b"another-secret-of-thirty-two-bytes", request.body, header)
    assert not signing.verify(secret, request.body, header, now=int(t) + 3600)


async def test_retries_after_5xx_then_succeeds(secret: bytes, event: SecurityEvent) -> None:
    async with HttpReceiver() as receiver:
        receiver.responses = [Response(500), Response(503)]
        sink = fast_sink(receiver.url, secret)
        try:
            await sink.send(event)
        finally:
            await sink.aclose()
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1
    for request in receiver.requests:
        assert signing.verify(secret, request.body, request.headers["x-lensguard-signature"])


async def test_429_waits_at_least_retry_after(secret: bytes, event: SecurityEvent) -> None:
    async with HttpReceiver() as receiver:
        receiver.responses = [Response(429, {"Retry-After": "1"})]
        sink = fast_sink(receiver.url, secret)
        started = time.monotonic()
        try:
            await sink.send(event)
        finally:
            await sink.aclose()
    assert len(receiver.requests) == 2
    assert time.monotonic() - started >= 0.95


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_4xx_is_not_retried(secret: bytes, event: SecurityEvent, status: int) -> None:
    async with HttpReceiver() as receiver:
        receiver.responses = [Response(status)]
        sink = fast_sink(receiver.url, secret)
        try:
            with pytest.raises(DeliveryRejected) as caught:
                await sink.send(event)
        finally:
            await sink.aclose()
    assert len(receiver.requests) == 1
    assert str(caught.value) == (
        f"webhook http://127.0.0.1:{receiver.port} refused the alert with status {status}"
    )


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_refused_and_not_followed(
    secret: bytes, event: SecurityEvent, status: int
) -> None:
    async with HttpReceiver() as elsewhere, HttpReceiver() as receiver:
        receiver.responses = [Response(status, {"Location": elsewhere.url})]
        sink = fast_sink(receiver.url, secret)
        try:
            with pytest.raises(DeliveryRejected, match=f"answered {status}; redirects are refused"):
                await sink.send(event)
        finally:
            await sink.aclose()
    assert len(receiver.requests) == 1
    assert elsewhere.requests == []


async def test_network_errors_are_retried_then_reported(
    secret: bytes, event: SecurityEvent
) -> None:
    sink = fast_sink(f"http://127.0.0.1:{free_port()}/hook", secret, max_attempts=3)
    try:
        with pytest.raises(DeliveryFailed, match="failed after 3 attempts: network error: Connect"):
            await sink.send(event)
    finally:
        await sink.aclose()


async def test_loopback_receiver_needs_allow_private(secret: bytes, event: SecurityEvent) -> None:
    async with HttpReceiver() as receiver:
        strict = fast_sink(receiver.url, secret, allow_private=False)
        lenient = fast_sink(receiver.url, secret, allow_private=True)
        try:
            with pytest.raises(UnsafeDestination, match="a loopback address"):
                await strict.send(event)
            assert receiver.requests == []
            await lenient.send(event)
        finally:
            await strict.aclose()
            await lenient.aclose()
    assert len(receiver.requests) == 1


async def test_connects_to_the_checked_address_not_a_later_answer(
    secret: bytes, event: SecurityEvent
) -> None:
    port = free_port()
    dns = ScriptedDns("127.0.0.1", "127.0.0.2")
    async with (
        HttpReceiver(port=port) as checked,
        HttpReceiver(host="127.0.0.2", port=port) as other,
    ):
        sink = fast_sink(f"http://alerts.test:{port}/hook", secret, resolver=dns)
        try:
            await sink.send(event)
        finally:
            await sink.aclose()
    assert dns.lookups == ["alerts.test"]
    assert other.requests == []
    (request,) = checked.requests
    assert request.headers["host"] == f"alerts.test:{port}"


async def test_dns_rebinding_to_loopback_never_reaches_loopback(
    secret: bytes, event: SecurityEvent
) -> None:
    # Public when checked, loopback afterwards: the classic rebinding answer sequence.
    dns = ScriptedDns(PUBLIC, "127.0.0.1")
    internet = UnreachableInternet()
    async with HttpReceiver() as loopback:
        sink = WebhookSink(
            f"http://rebind.test:{loopback.port}/hook",
            secret,
            timeout=0.5,
            max_attempts=2,
            backoff=0.01,
            resolver=dns,
            transport=internet,
        )
        try:
            # Attempt 1 dials the public address it checked (the stand-in internet refuses
            # it, so no packet leaves the machine); attempt 2
            # re-checks, sees loopback and refuses instead of dialling it.
            with pytest.raises(
                UnsafeDestination, match=re.escape("resolves to 127.0.0.1, a loopback")
            ):
                await sink.send(event)
        finally:
            await sink.aclose()
    assert dns.lookups == ["rebind.test", "rebind.test"]
    assert internet.dialled == [PUBLIC]
    assert loopback.requests == []


async def test_https_checks_the_certificate_for_the_url_name(
    secret: bytes, event: SecurityEvent, make_tls: Callable[[list[str]], TlsPair]
) -> None:
    server_tls, client_tls = make_tls(["alerts.test"])
    async with HttpReceiver(tls=server_tls) as receiver:
        url = f"https://alerts.test:{receiver.port}/hook"
        sink = fast_sink(url, secret, tls_context=client_tls, resolver=ScriptedDns("127.0.0.1"))
        try:
            await sink.send(event)
        finally:
            await sink.aclose()
    (request,) = receiver.requests
    assert request.headers["host"] == f"alerts.test:{receiver.port}"


async def test_https_refuses_a_certificate_for_another_name(
    secret: bytes, event: SecurityEvent, make_tls: Callable[[list[str]], TlsPair]
) -> None:
    server_tls, client_tls = make_tls(["other.test"])
    async with HttpReceiver(tls=server_tls) as receiver:
        url = f"https://alerts.test:{receiver.port}/hook"
        sink = fast_sink(
            url, secret, tls_context=client_tls, resolver=ScriptedDns("127.0.0.1"), max_attempts=1
        )
        try:
            with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
                await sink.send(event)
        finally:
            await sink.aclose()
    assert receiver.requests == []


async def test_batch_is_a_signed_json_array_with_seq(secret: bytes, event: SecurityEvent) -> None:
    other = SecurityEvent.create("auth.mfa_disabled")
    async with HttpReceiver() as receiver:
        sink = fast_sink(receiver.url, secret)
        try:
            await sink.send_batch([QueuedEvent(7, event), QueuedEvent(8, other)])
        finally:
            await sink.aclose()
    (request,) = receiver.requests
    assert signing.verify(secret, request.body, request.headers["x-lensguard-signature"])
    assert [item["seq"] for item in json.loads(request.body)] == [7, 8]
    assert [item["id"] for item in json.loads(request.body)] == [event.id, other.id]


async def test_name_and_repr_leave_out_path_and_secret(secret: bytes) -> None:
    sink = WebhookSink("https://hooks.example.com/services/T0/B0/tok3n?key=k", secret)
    try:
        assert sink.name == "webhook https://hooks.example.com"
        assert "tok3n" not in repr(sink)
    finally:
        await sink.aclose()


@pytest.mark.parametrize(
    ("url", "key", "message"),
    [
        ("ftp://example.com", b"k" * 32, "scheme 'ftp' is not http or https"),
        ("https://u:p@example.com", b"k" * 32, "URLs with credentials in them are refused"),
        ("https://example.com", b"short", "a webhook secret needs at least 32 bytes"),
    ],
)
def test_misconfiguration_is_refused_up_front(url: str, key: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WebhookSink(url, key)
