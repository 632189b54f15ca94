"""asyncpg TLS from libpq-style URL parameters (``sslmode``, ``sslrootcert`` ...).

SQLAlchemy hands URL query parameters to ``asyncpg.connect`` as keyword arguments,
which knows only ``ssl``; this turns the libpq names into one ``ssl.SSLContext``.
"""

from __future__ import annotations

import ssl
from typing import Any

from sqlalchemy.engine import make_url

_PARAMS = ("sslmode", "sslrootcert", "sslcert", "sslkey")
MODES = ("verify-full", "verify-ca", "require")


def tls_context(
    mode: str, ca_file: str | None, cert_file: str | None, key_file: str | None
) -> ssl.SSLContext:
    """A client context: ``verify-full`` checks chain and name, ``verify-ca`` the chain."""
    if mode not in MODES:
        raise ValueError(f"sslmode {mode!r} is not supported: use one of {', '.join(MODES)}")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode == "require":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        if not ca_file:
            raise ValueError(f"sslmode {mode} needs sslrootcert (the CA file)")
        context.load_verify_locations(cafile=ca_file)
        context.check_hostname = mode == "verify-full"
    if cert_file:
        context.load_cert_chain(cert_file, keyfile=key_file)
    return context


def engine_options(url: str) -> tuple[str, dict[str, Any]]:
    """``url`` without libpq TLS parameters, and the ``connect_args`` that replace them."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not any(p in parsed.query for p in _PARAMS):
        return url, {}
    query = parsed.query

    def one(name: str) -> str | None:
        value = query.get(name)
        return value if isinstance(value, str) or value is None else value[-1]

    context = tls_context(
        one("sslmode") or "verify-full", one("sslrootcert"), one("sslcert"), one("sslkey")
    )
    stripped = parsed.difference_update_query(_PARAMS)
    return stripped.render_as_string(hide_password=False), {"ssl": context}
