"""Syslog output: RFC 5424 and CEF formatters, sent over UDP, TCP or TLS.

Stream transports use octet-counting framing (RFC 6587 section 3.4.1), so a field
holding a newline cannot split or forge a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import ssl
from collections.abc import Sequence
from datetime import UTC
from typing import Any, Literal

from lensguard import __version__
from lensguard.monitor.alerts.errors import DeliveryFailed
from lensguard.monitor.alerts.event import QueuedEvent, SecurityEvent
from lensguard.severity import Severity

SD_ID = "lensguard@32473"
FACILITY_AUTHPRIV = 10
BOM = b"\xef\xbb\xbf"
# RFC 5424 severity numbers: 2 critical, 3 error, 4 warning, 6 informational.
SYSLOG_SEVERITY = {Severity.LOW: 6, Severity.MEDIUM: 4, Severity.HIGH: 3, Severity.CRITICAL: 2}
CEF_SEVERITY = {Severity.LOW: 3, Severity.MEDIUM: 5, Severity.HIGH: 8, Severity.CRITICAL: 10}
_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")
_NOT_SD_NAME = re.compile(r'[^\x21-\x7e]|[= \]"]')
_NOT_CEF_KEY = re.compile(r"[^A-Za-z0-9_]")

Transport = Literal["udp", "tcp", "tls"]
Format = Literal["rfc5424", "cef"]


def _header_field(value: str, limit: int) -> str:
    cleaned = _NOT_PRINTUSASCII.sub("_", value)[:limit]
    return cleaned or "-"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _sd_value(value: Any) -> str:
    return _text(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _timestamp(event: SecurityEvent) -> str:
    return event.time.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _header(
    event: SecurityEvent, *, app_name: str, hostname: str, facility: int, msgid: str
) -> bytes:
    pri = facility * 8 + SYSLOG_SEVERITY[event.severity]
    parts = (
        f"<{pri}>1",
        _timestamp(event),
        _header_field(hostname, 255),
        _header_field(app_name, 48),
        str(os.getpid()),
        _header_field(msgid, 32),
    )
    return " ".join(parts).encode("ascii")


def rfc5424(
    event: SecurityEvent,
    *,
    app_name: str = "lensguard",
    hostname: str,
    facility: int = FACILITY_AUTHPRIV,
    seq: int | None = None,
) -> bytes:
    """One RFC 5424 message: the fields as ``[lensguard@32473 ...]`` and the name as MSG."""
    params: dict[str, Any] = {"id": event.id, "severity": event.severity.value}
    if seq is not None:
        params["seq"] = seq
    for key, value in event.fields.items():
        name = _NOT_SD_NAME.sub("_", key)[:32] or "_"
        params.setdefault(name, value)
    sd = f"[{SD_ID} " + " ".join(f'{k}="{_sd_value(v)}"' for k, v in params.items()) + "]"
    head = _header(event, app_name=app_name, hostname=hostname, facility=facility, msgid=event.name)
    return head + b" " + sd.encode("utf-8") + b" " + BOM + event.name.encode("utf-8")


def _cef_header(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("|", "\\|")
    return escaped.replace("\r", " ").replace("\n", " ")


def _cef_value(value: Any) -> str:
    text = _text(value).replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def cef(event: SecurityEvent, *, seq: int | None = None) -> str:
    """``CEF:0|lensguard|lensguard|<version>|<name>|<name>|<0-10>|<extension>``."""
    ext: dict[str, Any] = {
        "rt": int(event.time.timestamp() * 1000),
        "externalId": event.id,
    }
    if seq is not None:
        ext.update({"cn1": seq, "cn1Label": "seq"})
    for key, value in event.fields.items():
        ext.setdefault(_NOT_CEF_KEY.sub("_", key) or "_", value)
    header = "|".join(
        [
            "CEF:0",
            "lensguard",
            "lensguard",
            _cef_header(__version__),
            _cef_header(event.name),
            _cef_header(event.name),
            str(CEF_SEVERITY[event.severity]),
        ]
    )
    return header + "|" + " ".join(f"{k}={_cef_value(v)}" for k, v in ext.items())


class SyslogSink:
    """Sends events to a syslog collector, one message per event (TCP/TLS octet-counted)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        transport: Transport = "udp",
        format: Format = "rfc5424",
        hostname: str | None = None,
        app_name: str = "lensguard",
        facility: int = FACILITY_AUTHPRIV,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not 0 <= facility <= 23:
            raise ValueError("syslog facility must be between 0 and 23")
        self._host = host
        self._port = port
        self._transport = transport
        self._format = format
        self._hostname = hostname or socket.gethostname()
        self._app_name = app_name
        self._facility = facility
        self._tls = (tls_context or ssl.create_default_context()) if transport == "tls" else None
        self._timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._lock = asyncio.Lock()
        self.name = f"syslog {transport}://{host}:{port}"

    def __repr__(self) -> str:
        return f"<SyslogSink {self.name}>"

    def render(self, event: SecurityEvent, seq: int | None = None) -> bytes:
        """The syslog message for ``event`` (CEF travels as the MSG of an RFC 5424 header)."""
        if self._format == "rfc5424":
            return rfc5424(
                event,
                app_name=self._app_name,
                hostname=self._hostname,
                facility=self._facility,
                seq=seq,
            )
        head = _header(
            event,
            app_name=self._app_name,
            hostname=self._hostname,
            facility=self._facility,
            msgid=event.name,
        )
        return head + b" - " + cef(event, seq=seq).encode("utf-8")

    async def send(self, event: SecurityEvent) -> None:
        """Send one event."""
        await self._write([self.render(event)])

    async def send_batch(self, batch: Sequence[QueuedEvent]) -> None:
        """Send each event with its ``seq``; returns once the kernel has taken every byte."""
        await self._write([self.render(item.event, item.seq) for item in batch])

    async def aclose(self) -> None:
        """Close the connection or socket."""
        async with self._lock:
            await self._disconnect()

    async def _write(self, messages: list[bytes]) -> None:
        async with self._lock:
            try:
                await asyncio.wait_for(self._write_locked(messages), self._timeout)
            except (OSError, TimeoutError) as exc:
                await self._disconnect()
                raise DeliveryFailed(f"{self.name}: {type(exc).__name__}: {exc}") from exc

    async def _write_locked(self, messages: list[bytes]) -> None:
        if self._transport == "udp":
            if self._udp is None:
                self._udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                    asyncio.DatagramProtocol, remote_addr=(self._host, self._port)
                )
            for message in messages:
                self._udp.sendto(message)
            return
        # A collector that restarted closed our connection; the kernel would still accept
        # one write into the void, so reconnect as soon as its FIN has been seen.
        if self._writer is None or self._writer.is_closing() or self._peer_closed():
            await self._disconnect()
            self._reader, self._writer = await asyncio.open_connection(
                self._host,
                self._port,
                ssl=self._tls,
                server_hostname=self._host if self._tls else None,
            )
        self._writer.write(b"".join(b"%d " % len(m) + m for m in messages))
        await self._writer.drain()

    def _peer_closed(self) -> bool:
        return self._reader is not None and self._reader.at_eof()

    async def _disconnect(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._writer is not None:
            writer, self._writer, self._reader = self._writer, None, None
            writer.close()
            with contextlib.suppress(OSError):  # already broken: closing is all we wanted
                await writer.wait_closed()
