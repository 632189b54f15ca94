"""Fixtures for alert tests: secrets, events and TLS material made on the spot."""

from __future__ import annotations

import io
import logging
import secrets
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from lensguard.logs import configure_logging
from lensguard.monitor.alerts.event import SecurityEvent
from lensguard.settings import Severity
from lensguard.tls import generate_self_signed

TlsPair = tuple[ssl.SSLContext, ssl.SSLContext]


@pytest.fixture
def secret() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def event() -> SecurityEvent:
    return SecurityEvent.create(
        "auth.login_failed", Severity.HIGH, username="ada", client="198.51.100.7"
    )


@pytest.fixture
def make_tls(tmp_path: Path) -> Callable[[list[str]], TlsPair]:
    """(server context, client context trusting only that server) for ``hostnames``."""

    def build(hostnames: list[str]) -> TlsPair:
        name = "-".join(hostnames).replace(":", "_")
        cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
        generate_self_signed(cert, key, hostnames=hostnames)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert, key)
        client = ssl.create_default_context(cafile=str(cert))
        return server, client

    return build


@pytest.fixture
def json_logging() -> Iterator[io.StringIO]:
    """The production log setup (structlog through the standard library) into a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_structlog = structlog.get_config()
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)
