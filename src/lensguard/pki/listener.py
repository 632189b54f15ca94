"""The HTTPS listener of ``lensguard serve`` (and of tests that serve in process).

One place builds it, so both get the same TLS: the hardened, reloadable context of
``live_tls`` (client certificates asked for when ``security.pki.device_tls`` is on)
and the WebSocket protocol that hands the app each client certificate (``peer``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from lensguard.errors import ConfigurationError
from lensguard.pki.authority import CA_CERT
from lensguard.pki.live_tls import LiveTLS, TLSFiles
from lensguard.pki.peer import TLSHTTPProtocol, TLSWebSocketProtocol
from lensguard.pki.settings import DeviceTLS
from lensguard.settings import Settings
from lensguard.tls import Certificate


def ca_dir(settings: Settings) -> Path:
    """Where the internal CA's files are."""
    return settings.security.pki.directory or settings.var_dir / "pki"


def client_ca(settings: Settings) -> Path | None:
    """The CA that device certificates chain to, when devices use mutual TLS."""
    if settings.security.pki.device_tls is DeviceTLS.OFF:
        return None
    path = ca_dir(settings) / CA_CERT
    if not path.is_file():
        raise ConfigurationError(
            f"security.pki.device_tls is {settings.security.pki.device_tls.value} but there "
            f"is no CA certificate at {path}: run `lensguard certs init`"
        )
    return path


def listener(
    app: FastAPI,
    settings: Settings,
    cert: Certificate | None,
    *,
    host: str,
    port: int,
    **options: Any,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` on ``host:port``, with the live TLS context of ``cert``.

    The context is kept as ``app.state.live_tls``: the app's PKI watch reloads it.
    Without ``cert`` the server speaks plain HTTP (behind a TLS-terminating proxy).
    """
    files = (
        None
        if cert is None
        else TLSFiles(
            cert.cert_path,
            cert.key_path,
            settings.security.encryption.tls_minimum,
            client_ca=client_ca(settings),
        )
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(files.cert) if files else None,
        ssl_keyfile=str(files.key) if files else None,
        http=TLSHTTPProtocol,
        ws=TLSWebSocketProtocol,
        log_config=None,
        server_header=False,
        # Idle keep-alive clients must not hold a stopping server for ever.
        timeout_graceful_shutdown=5,
        **options,
    )
    config.load()
    if files is not None:
        live = LiveTLS(files)
        config.ssl = live.outer
        app.state.live_tls = live
    return uvicorn.Server(config)
