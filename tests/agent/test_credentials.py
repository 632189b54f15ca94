"""The credential file's permissions, the token exchange and the ICE server fetch."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from lensguard.agent.credentials import (
    CredentialFileError,
    CredentialRejected,
    ServerUnavailable,
    TokenSource,
    read_credential,
)
from lensguard.agent.ice import IceServers
from lensguard.agent.runner import ConfigError, server_urls

CREDENTIAL = "lg_abcdefghijkl_S3cr3t-value_with_parts"


def credential_file(tmp_path: Path, mode: int = 0o600, text: str = CREDENTIAL) -> Path:
    path = tmp_path / "device.key"
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


def test_an_owner_only_file_is_read(tmp_path: Path) -> None:
    assert read_credential(credential_file(tmp_path)) == CREDENTIAL
    assert read_credential(credential_file(tmp_path, 0o400)) == CREDENTIAL


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_a_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = credential_file(tmp_path, mode)
    with pytest.raises(CredentialFileError) as refused:
        read_credential(path)
    assert str(refused.value) == (
        f"credential file {path} is accessible to group or others (mode {mode:04o}); "
        f"run: chmod 600 {path}"
    )
    assert "S3cr3t" not in str(refused.value)


@pytest.mark.parametrize("text", ["", "lg_abc", "Bearer lg_a_b", "lg_a_b\nX-Evil: 1", "x" * 600])
def test_a_malformed_credential_is_refused_without_echoing_it(tmp_path: Path, text: str) -> None:
    with pytest.raises(CredentialFileError, match="does not hold a device credential") as refused:
        read_credential(credential_file(tmp_path, text=text))
    assert text.strip() == "" or text.strip() not in str(refused.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CredentialFileError, match=r"device.key does not exist"):
        read_credential(tmp_path / "device.key")


class FakeServer:
    """A hand-written stand-in for the two HTTP endpoints the agent calls."""

    def __init__(self) -> None:
        self.token_status = 200
        self.turn: tuple[int, Any] = (404, {"detail": "not found"})
        self.exchanges = 0
        self.seen_auth: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen_auth.append(request.headers.get("authorization", ""))
        if request.url.path == "/api/v1/auth/device-token":
            self.exchanges += 1
            body = {"access_token": f"tok-{self.exchanges}", "expires_in": 100}
            return httpx.Response(self.token_status, json=body)
        status, body = self.turn
        return httpx.Response(status, content=json.dumps(body).encode())

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url="https://server", transport=httpx.MockTransport(self))


async def test_tokens_are_exchanged_and_refreshed_before_expiry(tmp_path: Path) -> None:
    server, now = FakeServer(), [0.0]
    async with server.client() as http:
        tokens = TokenSource(http, credential_file(tmp_path), clock=lambda: now[0])
        assert await tokens.get() == "tok-1"
        now[0] = 74.0
        assert await tokens.get() == "tok-1"
        assert tokens.seconds_to_refresh() == pytest.approx(1.0)
        now[0] = 75.0
        assert await tokens.get() == "tok-2"
    assert server.seen_auth == [f"Bearer {CREDENTIAL}"] * 2


async def test_a_refused_credential_is_fatal_and_an_outage_is_not(tmp_path: Path) -> None:
    server = FakeServer()
    async with server.client() as http:
        tokens = TokenSource(http, credential_file(tmp_path))
        server.token_status = 503
        with pytest.raises(ServerUnavailable, match="HTTP 503"):
            await tokens.get()
        server.token_status = 401
        with pytest.raises(CredentialRejected, match=r"refused the device credential \(HTTP 401\)"):
            await tokens.get()


async def test_ice_servers_come_from_the_turn_endpoint_and_its_absence_means_none(
    tmp_path: Path,
) -> None:
    server, now = FakeServer(), [0.0]
    async with server.client() as http:
        tokens = TokenSource(http, credential_file(tmp_path))
        ice = IceServers(http, tokens.get, clock=lambda: now[0])
        assert await ice.get() == []
        server.turn = (
            200,
            {
                "ice_servers": [
                    {
                        "urls": ["turn:turn.example:3478?transport=udp"],
                        "username": "u",
                        "credential": "p",
                    }
                ],
                "ttl": 600,
            },
        )
        assert await ice.get() == []  # a 404 is remembered for a while
        now[0] = 1000.0
        servers = await ice.get()
        assert [(s.urls, s.username, s.credential) for s in servers] == [
            (["turn:turn.example:3478?transport=udp"], "u", "p")
        ]
        server.turn = (200, {"ice_servers": [{"urls": "http://evil"}], "ttl": 600})
        now[0] = 1400.0  # past half the ttl
        assert await ice.get() == []
        server.turn = (200, {"ice_servers": [], "ttl": 0})  # TURN switched off
        now[0] = 1500.0
        asked = len(server.seen_auth)
        assert await ice.get() == [] and await ice.get() == []
        assert len(server.seen_auth) == asked + 1  # cached, not asked per viewer


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://cams.example", "must start with https://"),
        ("https://user:pw@cams.example", "no user or password"),
        ("https://cams.example/?token=x", "query or fragment"),
        ("wss://cams.example", "must start with https://"),
    ],
)
def test_server_urls_are_https_only_and_carry_nothing_secret(url: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        server_urls(url)


def test_server_urls() -> None:
    assert server_urls("https://cams.example:8443/") == (
        "https://cams.example:8443",
        "wss://cams.example:8443/v1/signal",
    )
    assert server_urls("https://proxy.example/lensguard")[1] == (
        "wss://proxy.example/lensguard/v1/signal"
    )
