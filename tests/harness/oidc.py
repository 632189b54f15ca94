"""OpenID Connect providers for tests: the real mock as its own process, and a forger.

``mock_provider`` runs ``oidc-provider-mock`` (PyPI) on a free loopback port with client
registration required, so redirect URIs are checked exactly. ``ForgingProvider`` is a
tiny local HTTP server whose discovery, JWKS and token endpoint the test controls: it
hands out whatever ID token the test signed, so each forged token can be tried.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.harness.ports import free_port, wait_for_port


@dataclass(frozen=True)
class MockProvider:
    issuer: str
    client_id: str
    client_secret: str


@contextmanager
def mock_provider(redirect_uris: list[str]) -> Iterator[MockProvider]:
    """``oidc-provider-mock`` in its own process, with one registered client."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oidc_provider_mock",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--require-registration",
            "--require-nonce",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        issuer = f"http://127.0.0.1:{port}"
        registered = httpx.post(
            f"{issuer}/oauth2/clients", json={"redirect_uris": redirect_uris}, timeout=10
        )
        registered.raise_for_status()
        body = registered.json()
        yield MockProvider(issuer, body["client_id"], body["client_secret"])
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class ForgingProvider:
    """A provider whose every answer the test decides."""

    issuer: str
    key: RSAKey
    id_token: str = ""
    extra_keys: list[dict[str, Any]] = field(default_factory=list)
    jwks_fetches: int = 0

    def sign(self, claims: dict[str, Any], *, header: dict[str, Any] | None = None) -> str:
        """``claims`` signed with the provider's key (RS256, its kid) unless ``header`` says."""
        return jwt.encode(header or {"alg": "RS256", "kid": self.key.kid}, claims, self.key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False), *self.extra_keys]}


def _handler(provider: ForgingProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _json(self, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                base = provider.issuer
                self._json(
                    {
                        "issuer": base,
                        "authorization_endpoint": f"{base}/authorize",
                        "token_endpoint": f"{base}/token",
                        "jwks_uri": f"{base}/jwks",
                        "end_session_endpoint": f"{base}/logout",
                    }
                )
            elif self.path == "/jwks":
                provider.jwks_fetches += 1
                self._json(provider.jwks())
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(length)
            if self.path == "/token":
                self._json(
                    {"access_token": "at", "token_type": "Bearer", "id_token": provider.id_token}
                )
            else:
                self.send_error(404)

    return Handler


@contextmanager
def forging_provider() -> Iterator[ForgingProvider]:
    """A forging provider on a free loopback port, served from a thread."""
    port = free_port()
    provider = ForgingProvider(
        issuer=f"http://127.0.0.1:{port}",
        key=RSAKey.generate_key(2048, parameters={"kid": "forger-1"}),
    )
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(provider))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
