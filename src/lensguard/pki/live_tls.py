"""The server's TLS context, rebuilt from its files without dropping a connection.

The listener holds one outer context for good; during each handshake its SNI callback
(which OpenSSL calls whether or not the client sent a name) hands the connection the
context in force. ``reload`` builds a fresh one from the certificate, key, CA and
revocation list on disk and swaps it in, so new handshakes get a rotated certificate or
a new list while connections already open keep theirs. A reload that fails (a key that
does not match, a list that does not parse) keeps the context in force and raises.

OpenSSL keeps verification settings of the outer context for each connection, so the
outer one carries the same verify mode and flags as every context swapped in.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lensguard.errors import ConfigurationError
from lensguard.tls import harden


@dataclass(frozen=True)
class TLSFiles:
    """What a server context is built from."""

    cert: Path
    key: Path
    minimum: str
    client_ca: Path | None = None
    """The internal CA's certificate: client certificates are asked for (not required,
    browsers have none) and must chain to it."""


class LiveTLS:
    """An outer ``SSLContext`` for the listener, and the reloadable one behind it."""

    def __init__(self, files: TLSFiles, crl_pem: str | None = None) -> None:
        self.files = files
        self.reloads = 0
        self.crl_pem = crl_pem
        # Until the first reload the outer context is also the one in force.
        self.outer = self._build(crl_pem)
        self.outer.sni_callback = self._select
        self._current = self.outer

    def _select(self, connection: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        connection.context = self._current

    @property
    def current(self) -> ssl.SSLContext:
        return self._current

    def _build(self, crl_pem: str | None) -> ssl.SSLContext:
        files = self.files
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(str(files.cert), str(files.key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"TLS certificate {files.cert} and key {files.key} do not load: {exc}"
            ) from None
        harden(context, files.minimum)
        if files.client_ca is not None:
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(cafile=str(files.client_ca))
            if crl_pem is not None:
                _load_crl(context, crl_pem)
                context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        return context

    def reload(self, crl_pem: str | None = None) -> None:
        """Rebuild from the files (and ``crl_pem``, else the list loaded last); swap it in."""
        crl = crl_pem if crl_pem is not None else self.crl_pem
        if crl is not None and self.crl_pem is None and self.files.client_ca is not None:
            # The outer context's flags decide whether lists are checked at all.
            self.outer.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        context = self._build(crl)
        self._current, self.crl_pem = context, crl
        self.reloads += 1


def _load_crl(context: ssl.SSLContext, pem: str) -> None:
    # OpenSSL reads revocation lists from files only (``cadata`` takes certificates).
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as handle:
        handle.write(pem)
        handle.flush()
        try:
            context.load_verify_locations(cafile=handle.name)
        except ssl.SSLError as exc:
            raise ConfigurationError(f"the revocation list does not load: {exc}") from None
