"""The client certificate of a WebSocket, handed to the app as the ASGI TLS extension.

uvicorn does not fill in the ``tls`` extension of the ASGI spec, so the listener runs
its WebSocket protocol through ``TLSWebSocketProtocol``, which adds
``scope["extensions"]["tls"]`` (``client_cert_chain``, ``tls_version``) before the app
sees the connection, and ``TLSHTTPProtocol`` does the same for plain requests. Only
certificates that verified against the internal CA (and its
revocation list) reach the app: with ``CERT_OPTIONAL`` OpenSSL refuses the handshake of
one that does not.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from lensguard.pki.authority import device_of, serial_hex


def tls_extension(transport: Any) -> dict[str, Any] | None:
    """The ASGI ``tls`` extension for ``transport``; None on a plain connection."""
    ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": None,
        "cipher_suite": None,
        "version": ssl_object.version(),
    }


class TLSWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, with the TLS extension in each scope."""

    async def run_asgi(self) -> None:
        extension = tls_extension(self.transport)
        if extension is not None:
            extensions: dict[str, Any] = self.scope["extensions"]
            extensions["tls"] = extension
        await super().run_asgi()


class TLSHTTPProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, with the TLS extension in each request's scope.

    The peer certificate is read once per connection: it cannot change on it.
    """

    _tls: dict[str, Any] | None = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is None:
            self._tls = tls_extension(self.transport)
        if self._tls is not None:
            extensions: dict[str, Any] = {"tls": self._tls}
            self.scope["extensions"] = extensions


@dataclass(frozen=True)
class PeerCertificate:
    """What the app needs of a verified client certificate."""

    serial: str
    device_id: str | None


def peer_certificate(scope: Mapping[str, Any]) -> PeerCertificate | None:
    """The verified client certificate of a connection, or None when it sent none."""
    extension = (scope.get("extensions") or {}).get("tls") or {}
    chain = extension.get("client_cert_chain") or []
    if not chain:
        return None
    cert = x509.load_pem_x509_certificate(chain[0].encode())
    return PeerCertificate(serial_hex(cert.serial_number), device_of(cert))
