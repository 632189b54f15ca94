"""``lensguard serve``: prepare ``var_dir`` and serve HTTPS."""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from lensguard.app import create_app
from lensguard.bootstrap import prepare
from lensguard.cli.context import console, errors, friendly_errors, settings_from
from lensguard.demo import ensure_demo_device, run_demo_agent
from lensguard.logs import configure_logging
from lensguard.pki.listener import listener
from lensguard.settings import Settings
from lensguard.tls import ensure_certificate


def _port_free(host: str, port: int) -> None:
    """Exit 2 naming the address when it cannot be bound, before claiming to serve."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = (
                "is already in use"
                if exc.errno == errno.EADDRINUSE
                else f"cannot be bound ({exc.strerror})"
            )
            errors.print(
                f"[red]error:[/red] {host}:{port} {why}; stop what listens there or choose "
                "another with --port or server.port"
            )
            raise typer.Exit(2) from None


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8443).")] = None,
) -> None:
    """Start the server: create `var/`, apply migrations, make the first admin, listen.

    On first start the admin's one-time password is printed here, once; it must be
    changed at first sign-in. Later starts reuse `var/` and print none.
    """
    overrides = {}
    if host is not None or port is not None:
        base = settings_from(ctx).server.model_dump()
        base.update({k: v for k, v in {"host": host, "port": port}.items() if v is not None})
        overrides["server"] = base
    settings = settings_from(ctx, **overrides)
    configure_logging(settings.security.monitoring.log_level)
    with friendly_errors():
        settings, first_admin = prepare(settings)
        tls = ensure_certificate(settings) if settings.security.encryption.enabled else None
        app = create_app(settings)
    _port_free(settings.server.host, settings.server.port)
    scheme = "https" if tls else "http"
    console.print(f"lensguard serving {scheme}://{settings.server.host}:{settings.server.port}")
    if tls is not None:
        origin = "generated" if tls.generated else "loaded"
        console.print(f"TLS certificate ({origin}) SHA-256 fingerprint: {tls.fingerprint}")
    if first_admin is not None:
        console.print(
            f"First admin created. Username: [bold]{first_admin.username}[/bold]  "
            f"one-time password: [bold]{first_admin.password}[/bold]\n"
            "It is shown only now; you must change it at first sign-in."
        )
    with friendly_errors():
        server = listener(
            app,
            settings,
            tls,
            host=settings.server.host,
            port=settings.server.port,
            proxy_headers=False,  # lensguard.guard.client decides whom to trust
            ws_max_size=1_048_576,
        )
    app.state.reload_on_sighup = tls is not None
    if not (settings.demo.enabled and tls is not None):
        server.run()
        return
    with friendly_errors():
        credential = asyncio.run(ensure_demo_device(settings))
    console.print(
        f"Demo robot {settings.demo.device_name!r} publishes a synthetic scene; "
        "sign in to the console to watch and drive it."
    )
    asyncio.run(_serve_with_demo(server, settings, credential, tls.cert_path))


async def _serve_with_demo(
    server: uvicorn.Server, settings: Settings, credential: Path, ca_file: Path
) -> None:
    stop = asyncio.Event()
    robot = asyncio.create_task(run_demo_agent(settings, credential, ca_file, stop))
    try:
        await server.serve()
    finally:
        stop.set()
        await robot
