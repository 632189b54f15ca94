"""TLS towards PostgreSQL and Redis: the settings, and the URLs that carry them.

The effective URLs (``Settings.database_url``, ``Settings.redis_url``) carry the TLS
options as query parameters, so every place that opens a connection from a URL (the
app, the CLI, workers, migrations) gets the same TLS without passing settings around.
PostgreSQL takes libpq's names (``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``),
which ``lensguard.store.tls`` turns into an ``ssl.SSLContext`` for asyncpg; Redis takes
redis-py's own (``ssl_ca_certs`` ...), read by ``Redis.from_url``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, field_validator, model_validator


class TLSMode(StrEnum):
    """How much of the server's certificate is checked (libpq's ``sslmode`` names)."""

    VERIFY_FULL = "verify-full"
    """The chain ends at ``ca_file`` and the name matches the host connected to."""
    VERIFY_CA = "verify-ca"
    """The chain ends at ``ca_file``; any name (dev only)."""
    REQUIRE = "require"
    """Encrypted but unverified (dev only)."""


class TLSSettings(BaseModel):
    """TLS towards PostgreSQL or Redis; off unless ``enabled``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    mode: TLSMode = TLSMode.VERIFY_FULL
    ca_file: Path | None = None
    """PEM bundle of the CA(s) that sign the server's certificate."""
    cert_file: Path | None = None
    """Client certificate (PEM), for servers that require one; needs ``key_file``."""
    key_file: Path | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_spelling(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _complete(self) -> TLSSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: set both or neither")
        if self.enabled and self.mode is not TLSMode.REQUIRE and self.ca_file is None:
            raise ValueError(f"mode {self.mode.value} needs ca_file (the CA that signs the server)")
        return self


def unreadable_files(tls: TLSSettings, section: str) -> list[str]:
    """What is wrong with the files ``tls`` names, one line each (empty when all read).

    Checked at start-up: the libraries would otherwise fail at the first connection,
    with an error that names neither the setting nor the file.
    """
    if not tls.enabled:
        return []
    problems = []
    for name in ("ca_file", "cert_file", "key_file"):
        path: Path | None = getattr(tls, name)
        if path is None:
            continue
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            problems.append(f"{section}.tls.{name}: cannot read {path}: {exc.strerror or exc}")
    return problems


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(extra)
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_database_tls(url: str, tls: TLSSettings) -> str:
    """``url`` with libpq-style TLS parameters when ``tls`` is enabled (PostgreSQL only)."""
    if not tls.enabled or not urlsplit(url).scheme.startswith("postgresql"):
        return url
    extra = {"sslmode": tls.mode.value}
    if tls.ca_file is not None:
        extra["sslrootcert"] = str(tls.ca_file)
    if tls.cert_file is not None and tls.key_file is not None:
        extra["sslcert"] = str(tls.cert_file)
        extra["sslkey"] = str(tls.key_file)
    return _with_query(url, extra)


def with_redis_tls(url: str, tls: TLSSettings) -> str:
    """``url`` as ``rediss://`` with redis-py's TLS parameters when ``tls`` is enabled."""
    if not tls.enabled:
        return url
    parts = urlsplit(url)
    if parts.scheme == "redis":
        url = urlunsplit(parts._replace(scheme="rediss"))
    extra = {
        "ssl_cert_reqs": "none" if tls.mode is TLSMode.REQUIRE else "required",
        "ssl_check_hostname": "true" if tls.mode is TLSMode.VERIFY_FULL else "false",
    }
    if tls.ca_file is not None:
        extra["ssl_ca_certs"] = str(tls.ca_file)
    if tls.cert_file is not None and tls.key_file is not None:
        extra["ssl_certfile"] = str(tls.cert_file)
        extra["ssl_keyfile"] = str(tls.key_file)
    return _with_query(url, extra)
