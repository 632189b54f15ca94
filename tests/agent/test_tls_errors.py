"""The agent names a TLS failure and its fix (--ca-file), not just an exception name."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from lensguard.agent.credentials import ServerUnavailable, TokenSource
from lensguard.agent.tls_errors import tls_problem
from tests.hardening.weak_server import weak_server

CREDENTIAL = "lg_abc123_" + "s" * 32


def credential_file(tmp_path: Path) -> Path:
    path = tmp_path / "device.credential"
    path.write_text(CREDENTIAL)
    path.chmod(0o600)
    return path


async def test_an_untrusted_certificate_names_the_fix(tmp_path: Path) -> None:
    with weak_server(tmp_path) as weak:
        async with httpx.AsyncClient(base_url=weak.url) as http:
            tokens = TokenSource(http, credential_file(tmp_path))
            with pytest.raises(ServerUnavailable) as refused:
                await tokens.get()
        message = str(refused.value)
        assert "TLS: the server's certificate was not accepted" in message
        assert "self-signed certificate" in message and "--ca-file" in message
        assert CREDENTIAL not in message

        # With the CA given, TLS passes and the failure is the server's answer instead.
        trusted = ssl.create_default_context(cafile=str(weak.cert))
        async with httpx.AsyncClient(base_url=weak.url, verify=trusted) as http:
            with pytest.raises(ServerUnavailable) as answered:
                await TokenSource(http, credential_file(tmp_path)).get()
        assert str(answered.value) == "token exchange answered HTTP 501"


def test_errors_without_tls_in_them_are_left_alone() -> None:
    assert tls_problem(ConnectionRefusedError(111, "Connection refused")) is None
    wrapped = httpx.ConnectError("failed")
    wrapped.__cause__ = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    assert tls_problem(wrapped) is not None and "handshake" in str(tls_problem(wrapped))
