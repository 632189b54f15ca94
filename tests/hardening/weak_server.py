"""A deliberately badly hardened HTTPS server, standing in for a misconfigured proxy.

It accepts TLS 1.0 and CBC suites, sends no security headers, and answers a route
the OpenAPI document marks as protected without asking for credentials.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SPEC = {
    "openapi": "3.1.0",
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/things": {"get": {}},
        "/api/v1/things/{thing_id}": {"get": {}},
        "/api/v1/health": {"get": {"security": []}},
    },
}


def certificate(directory: Path, *, days: int) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 valid for ``days`` more days."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "weak-cert.pem", directory / "weak-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(SPEC if self.path == "/openapi.json" else {"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # refused probes (a suite or version not offered) end handshakes early


@dataclass(frozen=True)
class Weak:
    url: str
    port: int
    cert: Path


@contextmanager
def weak_server(directory: Path, *, days: int = 365) -> Iterator[Weak]:
    cert, key = certificate(directory, days=days)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.load_cert_chain(cert, key)
    server = _Quiet(("127.0.0.1", 0), _Handler)
    plain: socket.socket = server.socket
    server.socket = context.wrap_socket(plain, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield Weak(f"https://127.0.0.1:{port}", port, cert)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
