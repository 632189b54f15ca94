"""Signed JSON webhooks: one event per POST, or a sequenced batch for the SIEM forwarder.

Every attempt re-checks the destination and connects to the exact address it
approved: the URL's host is swapped for that address, while the Host header and
the TLS SNI / certificate check keep the original name. A rebinding DNS server
therefore cannot steer the connection after the check.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Sequence

import httpx

from lensguard import __version__
from lensguard.monitor.alerts import signing
from lensguard.monitor.alerts.destination import (
    Resolver,
    check_destination,
    literal_address,
    parse_destination,
)
from lensguard.monitor.alerts.errors import (
    UnsafeDestination,
)
from lensguard.monitor.alerts.event import QueuedEvent, SecurityEvent
from lensguard.monitor.alerts.http_delivery import deliver_with_retries, retry_after_seconds

__all__ = ["UnsafeDestination", "WebhookSink", "check_destination"]


def _body(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class WebhookSink:
    """POSTs signed JSON to one URL; retries network errors, 5xx and 429; never redirects."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        allow_private: bool = False,
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        tls_context: ssl.SSLContext | None = None,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``resolver`` and ``transport`` replace DNS and the network beyond this machine
        (tests stand in for the internet with them); both default to the real ones."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._url = parse_destination(url)
        self._secret = signing.check_secret(secret)
        self._allow_private = allow_private
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._resolver = resolver
        host = self._url.raw_host.decode("ascii")
        # The certificate must match the name in the URL, not the address we dial.
        self._sni = None if literal_address(host) is not None else host
        self._host_header = self._url.netloc.decode("ascii")
        # Scheme and authority only: webhook paths often embed a token (Slack, Teams).
        self.name = f"webhook {self._url.scheme}://{self._host_header}"
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            # A proxy from the environment would resolve the name itself, undoing the pin.
            trust_env=False,
            verify=tls_context or ssl.create_default_context(),
            headers={"User-Agent": f"lensguard/{__version__}"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"<WebhookSink {self.name}>"

    async def send(self, event: SecurityEvent) -> None:
        """POST ``event`` as one JSON object."""
        await self._deliver(_body(event.to_dict()))

    async def send_batch(self, batch: Sequence[QueuedEvent]) -> None:
        """POST ``batch`` as one JSON array, each item with its ``seq``."""
        await self._deliver(_body([item.to_dict() for item in batch]))

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    async def _deliver(self, body: bytes) -> None:
        await deliver_with_retries(
            lambda: self._attempt(body),
            name=self.name,
            what="the alert",
            max_attempts=self._max_attempts,
            backoff=self._backoff,
            max_backoff=self._max_backoff,
            sleep=asyncio.sleep,
            network_error=lambda exc: f"network error: {type(exc).__name__}: {exc}",
        )

    async def _attempt(self, body: bytes) -> tuple[int, float | None]:
        addresses = await check_destination(
            self._url, allow_private=self._allow_private, resolver=self._resolver
        )
        pinned = self._url.copy_with(host=str(addresses[0]))
        request = self._client.build_request(
            "POST",
            pinned,
            content=body,
            headers={
                "Host": self._host_header,
                "Content-Type": "application/json",
                signing.HEADER: signing.sign(self._secret, body),
            },
            extensions={"sni_hostname": self._sni} if self._sni else {},
        )
        # Streamed and closed unread: a hostile receiver cannot make us buffer a huge body.
        response = await self._client.send(request, stream=True)
        try:
            return response.status_code, retry_after_seconds(response.headers.get("retry-after"))
        finally:
            await response.aclose()
