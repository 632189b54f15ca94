"""SMS alerts through a provider-neutral HTTP gateway: one templated POST per recipient.

The gateway URL, body template and auth are configured; nothing provider-specific lives
here. Phone numbers are personal data, so logs and errors only ever carry them masked.
Delivery retries like the webhook sink: network errors, 5xx and 429 are retried with
backoff, any other 4xx and redirects are permanent.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from string import Template
from typing import Literal
from urllib.parse import urlencode

import httpx
import structlog

from lensguard import __version__
from lensguard.clock import Clock, SystemClock
from lensguard.monitor.alerts import signing
from lensguard.monitor.alerts.destination import (
    Resolver,
    check_destination,
    literal_address,
    parse_destination,
)
from lensguard.monitor.alerts.errors import (
    DeliveryFailed,
    UnsafeDestination,
)
from lensguard.monitor.alerts.event import SecurityEvent, at_least
from lensguard.monitor.alerts.http_delivery import deliver_with_retries, retry_after_seconds
from lensguard.monitor.alerts.smsformat import check_number, check_template, mask_number
from lensguard.severity import Severity

SIGNATURE_HEADER = signing.HEADER
ELLIPSIS = "\u2026"

_log = structlog.get_logger("lensguard.monitor.alerts.sms")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def alert_text(event: SecurityEvent) -> str:
    """One line for a phone: severity, event name and its (already masked) fields."""
    details = " ".join(f"{key}={value}" for key, value in event.fields.items())
    return f"[{event.severity.value}] {event.name} {details}".strip()


@dataclass(frozen=True)
class SmsAuth:
    """Either a bearer token or an HMAC key; the value is only read when a request is built."""

    kind: Literal["bearer", "hmac"]
    secret: bytes

    def __repr__(self) -> str:
        return f"SmsAuth({self.kind}, ***)"


ESCALATED = "incident.escalated"
AccountNumbers = Callable[[], Awaitable[Sequence[str]]]
"""Reads the numbers on file of the accounts an SMS sink also texts (``account_roles``)."""


class SmsSink:
    """POSTs the rendered template to the gateway once per recipient."""

    def __init__(
        self,
        url: str,
        recipients: Sequence[str],
        template: Mapping[str, str],
        auth: SmsAuth,
        *,
        encoding: Literal["json", "form"] = "json",
        min_severity: Severity = Severity.HIGH,
        max_length: int = 160,
        rate_per_recipient: int = 10,
        rate_window: float = 3600.0,
        allow_http: bool = False,
        allow_private: bool = False,
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        tls_context: ssl.SSLContext | None = None,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        escalation: Mapping[str, Sequence[str]] | None = None,
        account_numbers: AccountNumbers | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if max_length < 2:
            raise ValueError("max_length must be at least 2")
        self._url = parse_destination(url)
        if self._url.scheme != "https" and not allow_http:
            raise UnsafeDestination("the SMS gateway URL must be https outside dev mode")
        if not recipients and account_numbers is None:
            raise ValueError("an SMS sink needs at least one recipient")
        self._account_numbers = account_numbers
        self._recipients = [check_number(number) for number in recipients]
        self._levels = {
            level: [check_number(number) for number in numbers]
            for level, numbers in (escalation or {}).items()
        }
        self._template = {key: Template(value) for key, value in check_template(template).items()}
        self._auth = auth
        self._encoding = encoding
        self._min_severity = min_severity
        self._max_length = max_length
        self._rate = rate_per_recipient
        self._window = rate_window
        self._sent: dict[str, list[float]] = {}
        self._allow_private = allow_private
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._resolver = resolver
        self._clock = clock or SystemClock()
        self._host_header = self._url.netloc.decode("ascii")
        host = self._url.raw_host.decode("ascii")
        self._sni = None if literal_address(host) is not None else host
        self.name = f"sms {self._url.scheme}://{self._host_header}"
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            verify=tls_context or ssl.create_default_context(),
            headers={"User-Agent": f"lensguard/{__version__}"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"<SmsSink {self.name}>"

    def render(self, to: str, event: SecurityEvent) -> bytes:
        """The request body for ``to``, text bounded to ``max_length`` characters."""
        values = {
            "to": to,
            "text": truncate(alert_text(event), self._max_length),
            "severity": event.severity.value,
        }
        fields = {key: value.substitute(values) for key, value in self._template.items()}
        if self._encoding == "form":
            return urlencode(fields).encode("ascii")
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    async def send(self, event: SecurityEvent) -> None:
        """Send to every recipient within its rate if severe enough; raise when any failed."""
        if not at_least(event.severity, self._min_severity):
            return
        failures: list[str] = []
        for number in await self.targets(event):
            masked = mask_number(number)
            if not self._allow(number):
                _log.warning("sms_rate_limited", sink=self.name, to=masked, alert_id=event.id)
                continue
            try:
                await self._deliver(self.render(number, event))
            except DeliveryFailed as exc:
                failures.append(f"{masked}: {exc}")
                _log.warning("sms_delivery_failed", sink=self.name, to=masked, error=str(exc))
            else:
                _log.info("sms_sent", sink=self.name, to=masked, alert_id=event.id)
        if failures:
            raise DeliveryFailed("; ".join(failures))

    async def targets(self, event: SecurityEvent) -> list[str]:
        """``recipients_for`` the event, then (outside an escalation level's own list)
        the numbers on file of the accounts configured, each once. A number on file
        that is not E.164 is skipped (it cannot be delivered), never the whole alert."""
        numbers = self.recipients_for(event)
        if self._account_numbers is None or numbers is not self._recipients:
            return list(numbers)
        found = list(numbers)
        try:
            on_file = await self._account_numbers()
        except Exception as exc:  # the database is down: text the fixed numbers at least
            _log.warning("sms_accounts_unreadable", sink=self.name, error=type(exc).__name__)
            on_file = []
        for number in on_file:
            try:
                checked = check_number(number)
            except ValueError:
                _log.warning("sms_number_unusable", sink=self.name, to=mask_number(number))
                continue
            if checked not in found:
                found.append(checked)
        return found

    def recipients_for(self, event: SecurityEvent) -> list[str]:
        """Who is texted: an escalation level's own numbers for its ``incident.escalated``
        alerts, ``recipients`` for everything else."""
        if event.name == ESCALATED:
            level = event.fields.get("level_name")
            if isinstance(level, str) and level in self._levels:
                return self._levels[level]
        return self._recipients

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    def _allow(self, number: str) -> bool:
        now = self._clock.monotonic()
        recent = [t for t in self._sent.get(number, []) if now - t < self._window]
        if len(recent) >= self._rate:
            self._sent[number] = recent
            return False
        recent.append(now)
        self._sent[number] = recent
        return True

    async def _deliver(self, body: bytes) -> None:
        await deliver_with_retries(
            lambda: self._attempt(body),
            name=self.name,
            what="the SMS",
            max_attempts=self._max_attempts,
            backoff=self._backoff,
            max_backoff=self._max_backoff,
            sleep=self._clock.sleep,
            network_error=lambda exc: f"network error: {type(exc).__name__}",
        )

    def _headers(self, body: bytes) -> dict[str, str]:
        content_type = (
            "application/x-www-form-urlencoded" if self._encoding == "form" else "application/json"
        )
        headers = {"Host": self._host_header, "Content-Type": content_type}
        if self._auth.kind == "bearer":
            headers["Authorization"] = f"Bearer {self._auth.secret.decode('utf-8')}"
        else:
            timestamp = int(self._clock.time())
            headers[SIGNATURE_HEADER] = signing.sign(self._auth.secret, body, timestamp=timestamp)
        return headers

    async def _attempt(self, body: bytes) -> tuple[int, float | None]:
        addresses = await check_destination(
            self._url, allow_private=self._allow_private, resolver=self._resolver
        )
        request = self._client.build_request(
            "POST",
            self._url.copy_with(host=str(addresses[0])),
            content=body,
            headers=self._headers(body),
            extensions={"sni_hostname": self._sni} if self._sni else {},
        )
        response = await self._client.send(request, stream=True)
        try:
            return response.status_code, retry_after_seconds(response.headers.get("retry-after"))
        finally:
            await response.aclose()
