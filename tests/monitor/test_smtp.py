import email
import email.policy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from lensguard.monitor.alerts.errors import DeliveryFailed
from lensguard.monitor.alerts.event import SecurityEvent
from lensguard.monitor.alerts.smtp import SmtpSink
from lensguard.settings import Severity
from tests.harness.ports import free_port
from tests.monitor.conftest import TlsPair

PASSWORD = "correct horse battery staple"


@dataclass
class Mailbox:
    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        # handled=False: let aiosmtpd answer 535 itself on failure.
        return AuthResult(success=data.password == PASSWORD.encode(), handled=False)

    def body(self, index: int = 0) -> str:
        text = self.message(index).get_content()
        assert isinstance(text, str)
        return text.replace("\r\n", "\n")

    def message(self, index: int = 0) -> email.message.EmailMessage:
        content = self.envelopes[index].original_content
        assert content is not None
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox
    client_tls: Any


@pytest.fixture
def smtp_server(make_tls: Callable[[list[str]], TlsPair]) -> Iterator[SmtpServer]:
    """aiosmtpd on loopback that insists on STARTTLS before mail or AUTH."""
    server_tls, client_tls = make_tls(["localhost", "127.0.0.1"])
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=mailbox.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield SmtpServer(controller.port, mailbox, client_tls)
    finally:
        controller.stop()


def sink_for(server: SmtpServer, **options: Any) -> SmtpSink:
    return SmtpSink(
        "127.0.0.1",
        server.port,
        "lensguard@example.org",
        ["secops@example.org", "oncall@example.org"],
        tls_context=server.client_tls,
        timeout=5,
        **options,
    )


async def test_alert_mail_arrives_over_starttls(
    smtp_server: SmtpServer, event: SecurityEvent
) -> None:
    await sink_for(smtp_server).send(event)
    (envelope,) = smtp_server.mailbox.envelopes
    assert envelope.mail_from == "lensguard@example.org"
    assert envelope.rcpt_tos == ["secops@example.org", "oncall@example.org"]
    message = smtp_server.mailbox.message()
    assert message["Subject"] == "[lensguard] high auth.login_failed"
    body = smtp_server.mailbox.body()
    assert "event: auth.login_failed\n" in body
    assert "  username: ada\n" in body
    assert "  client: 198.51.100.7\n" in body
    assert f"id: {event.id}\n" in body


async def test_credentials_go_only_over_tls(smtp_server: SmtpServer, event: SecurityEvent) -> None:
    await sink_for(smtp_server, username="alerts", password=PASSWORD).send(event)
    assert smtp_server.mailbox.logins == [(b"alerts", PASSWORD.encode())]
    assert len(smtp_server.mailbox.envelopes) == 1
    with pytest.raises(ValueError, match="refusing to send SMTP credentials without STARTTLS"):
        sink_for(smtp_server, username="alerts", password=PASSWORD, starttls=False)


async def test_wrong_password_is_a_delivery_failure_without_the_password(
    smtp_server: SmtpServer, event: SecurityEvent
) -> None:
    sink = sink_for(smtp_server, username="alerts", password="wrong-password-here")
    with pytest.raises(DeliveryFailed, match="SMTPAuthenticationError") as caught:
        await sink.send(event)
    assert "wrong-password-here" not in str(caught.value)
    assert "wrong-password-here" not in repr(sink)


async def test_header_injection_in_event_name_adds_no_header(smtp_server: SmtpServer) -> None:
    hostile = SecurityEvent.create(
        "auth.login_failed\r\nBcc: attacker@evil.example\r\n\r\nforged body",
        Severity.CRITICAL,
        username="ada\r\nX-Injected: 1",
    )
    await sink_for(smtp_server).send(hostile)
    (envelope,) = smtp_server.mailbox.envelopes
    assert envelope.rcpt_tos == ["secops@example.org", "oncall@example.org"]
    message = smtp_server.mailbox.message()
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert message["Subject"] == (
        "[lensguard] critical auth.login_failed\\r\\nBcc: attacker@evil.example"
        "\\r\\n\\r\\nforged body"
    )
    body = smtp_server.mailbox.body()
    assert "  username: ada\\r\\nX-Injected: 1\n" in body
    assert "\nforged body" not in body


async def test_server_without_starttls_is_refused_not_downgraded(event: SecurityEvent) -> None:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        sink = SmtpSink("127.0.0.1", controller.port, "a@example.org", ["b@example.org"])
        with pytest.raises(DeliveryFailed, match="STARTTLS extension not supported"):
            await sink.send(event)
    finally:
        controller.stop()
    assert mailbox.envelopes == []
