"""Alert e-mails: one plain-text message per event, sent with smtplib in a worker thread.

Event names and field values come from requests (usernames, client addresses), so
nothing from an event reaches a header unescaped: CR, LF and other control
characters are escaped before they reach the subject or the body.
"""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid

from lensguard.monitor.alerts.errors import DeliveryFailed
from lensguard.monitor.alerts.event import SecurityEvent

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}
MAX_SUBJECT = 200


def escape(text: str) -> str:
    """``text`` with backslashes and control characters escaped, so it stays one line."""
    text = text.replace("\\", "\\\\")
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def subject(event: SecurityEvent) -> str:
    """``[lensguard] <severity> <name>``, one line, at most ``MAX_SUBJECT`` characters."""
    return f"[lensguard] {event.severity.value} {escape(event.name)}"[:MAX_SUBJECT]


def body(event: SecurityEvent) -> str:
    """The plain-text body: the event, then one escaped ``key: value`` line per field."""
    lines = [
        f"event: {escape(event.name)}",
        f"severity: {event.severity.value}",
        f"time: {event.to_dict()['time']}",
        f"id: {event.id}",
    ]
    if event.fields:
        lines.append("fields:")
        for key, value in sorted(event.fields.items()):
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines.append(f"  {escape(key)}: {escape(text)}")
    return "\n".join(lines) + "\n"


class SmtpSink:
    """Sends each event as an e-mail; STARTTLS by default, never credentials in the clear."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not recipients:
            raise ValueError("an SMTP sink needs at least one recipient")
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password must be set together")
        if username is not None and not starttls:
            raise ValueError("refusing to send SMTP credentials without STARTTLS")
        for address in (sender, *recipients):
            if _CONTROL.search(address):
                raise ValueError("e-mail addresses must not contain control characters")
        self._host = host
        self._port = port
        self._sender = sender
        self._recipients = list(recipients)
        self._username = username
        self._password = password
        self._starttls = starttls
        self._tls_context = tls_context or ssl.create_default_context()
        self._timeout = timeout
        self.name = f"smtp {host}:{port}"

    def __repr__(self) -> str:  # the default would show the password
        return f"<SmtpSink {self.name}>"

    def message(self, event: SecurityEvent) -> EmailMessage:
        """The e-mail for ``event``."""
        msg = EmailMessage()
        msg["From"] = self._sender
        msg["To"] = ", ".join(self._recipients)
        msg["Subject"] = subject(event)
        msg["Message-ID"] = make_msgid(domain="lensguard")
        msg.set_content(body(event))
        return msg

    async def send(self, event: SecurityEvent) -> None:
        """Send the e-mail for ``event``; raises ``DeliveryFailed``."""
        msg = self.message(event)
        try:
            await asyncio.to_thread(self._send_blocking, msg)
        except (smtplib.SMTPException, OSError) as exc:
            # smtplib errors can echo the server's reply, never our password.
            raise DeliveryFailed(f"{self.name}: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        """Nothing to release: each send uses its own connection."""

    def _send_blocking(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as client:
            client.ehlo()
            if self._starttls:
                # Raises SMTPNotSupportedError when the server does not offer it: no downgrade.
                client.starttls(context=self._tls_context)
                client.ehlo()
            if self._username is not None and self._password is not None:
                client.login(self._username, self._password)
            client.send_message(msg, from_addr=self._sender, to_addrs=self._recipients)
