"""``lensguard agent``: run on a robot or camera, publish its video, obey control."""

from __future__ import annotations

import asyncio
import importlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from lensguard.agent.credentials import CredentialFileError, CredentialRejected, read_credential
from lensguard.agent.driver import Driver, SimulatedRobot
from lensguard.agent.runner import Agent, AgentConfig, ConfigError, PublishRefused
from lensguard.agent.sources import SourceError, open_source
from lensguard.cli.context import errors
from lensguard.logs import configure_logging

EXIT_CONFIG = 2
EXIT_REFUSED = 3
EXIT_SOURCE = 1
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def load_driver(spec: str) -> Driver:
    """``simulated``, or ``package.module:factory`` returning an object with move/stop/ptz."""
    if spec == "simulated":
        return SimulatedRobot()
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--driver must be 'simulated' or 'package.module:factory', not {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load driver {spec!r}: {exc}") from None
    driver = factory()
    if not isinstance(driver, Driver):
        raise ConfigError(f"driver {spec!r} lacks move(), stop() or ptz()")
    return driver


async def _serve(agent: Agent) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await agent.run(stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _fail(message: str, code: int) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def agent(  # noqa: PLR0917 - typer maps each parameter to an option
    server: Annotated[
        str,
        typer.Option(
            help="The lensguard server's base URL, https only, e.g. https://cams.example:8443."
        ),
    ],
    credential_file: Annotated[
        Path,
        typer.Option(
            help="File holding this device's credential (lg_...), mode 0600: the agent "
            "refuses a file group or others can read. Never printed or logged.",
            dir_okay=False,
        ),
    ],
    source: Annotated[
        str,
        typer.Option(
            help="Video source: `synthetic` (test pattern with capture-time stamps), "
            "`file:PATH` (looped), `v4l2:/dev/video0` (camera) or a file path."
        ),
    ] = "synthetic",
    ca_file: Annotated[
        Path | None,
        typer.Option(
            help="PEM CA certificate(s) to verify the server with, instead of the system "
            "CAs (e.g. the server's var/tls-cert.pem for a self-signed install).",
            dir_okay=False,
        ),
    ] = None,
    client_cert: Annotated[
        Path | None,
        typer.Option(
            help="The device's certificate for mutual TLS (`lensguard certs issue device`); "
            "needs --client-key.",
            dir_okay=False,
        ),
    ] = None,
    client_key: Annotated[
        Path | None,
        typer.Option(help="The private key of --client-cert (keep it 0600).", dir_okay=False),
    ] = None,
    width: Annotated[int, typer.Option(help="Frame width in px (synthetic, camera).")] = 640,
    height: Annotated[int, typer.Option(help="Frame height in px (synthetic, camera).")] = 480,
    fps: Annotated[
        int, typer.Option(min=1, max=120, help="Frames per second (synthetic, camera).")
    ] = 30,
    deadman_ms: Annotated[
        int,
        typer.Option(
            min=100,
            max=10_000,
            help="Stop a moving robot after this many ms without a control command.",
        ),
    ] = 500,
    max_peers: Annotated[
        int, typer.Option(min=1, max=64, help="Most viewers served at once (direct mode).")
    ] = 8,
    driver: Annotated[
        str,
        typer.Option(
            help="`simulated`, or `package.module:factory` returning your robot's driver "
            "(an object with move(linear, angular), stop() and ptz(pan, tilt, zoom))."
        ),
    ] = "simulated",
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    allow_remote_address: Annotated[
        list[str],
        typer.Option(
            help="CIDR block inside the reserved ranges (private, link-local, ...) that "
            "viewers' ICE candidates may still name, e.g. your LAN in direct mode. "
            "Repeatable; loopback is never allowed."
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
) -> None:
    """Run on a robot or camera: publish video to lensguard and obey control commands.

    The agent exchanges its credential for short-lived access tokens, keeps one
    signaling connection open (reconnecting with backoff), answers each viewer's
    offer, and stops the robot when commands or the link go silent. Logs are JSON
    on stderr. SIGINT or SIGTERM stop it cleanly.

    Example:

        lensguard agent --server https://cams.example:8443 \\
            --credential-file /etc/lensguard/device.key --source v4l2:/dev/video0
    """
    try:
        if log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
        read_credential(credential_file)  # refuse a bad file before opening anything
        the_driver = load_driver(driver)
        viewport = the_driver.viewport if isinstance(the_driver, SimulatedRobot) else None
        track = open_source(source, width=width, height=height, fps=fps, viewport=viewport)
        config = AgentConfig(
            server=server,
            credential_file=credential_file,
            ca_file=ca_file,
            client_cert=client_cert,
            client_key=client_key,
            max_peers=max_peers,
            deadman=deadman_ms / 1000,
            allow_remote=tuple(allow_remote_address),
        )
        runner = Agent(config, track, the_driver)
    except (CredentialFileError, ConfigError, SourceError, ValueError) as exc:
        raise _fail(str(exc), EXIT_CONFIG) from None
    configure_logging(log_level.upper())
    try:
        asyncio.run(_serve(runner))
    except CredentialFileError as exc:
        raise _fail(str(exc), EXIT_CONFIG) from None
    except (CredentialRejected, PublishRefused) as exc:
        raise _fail(str(exc), EXIT_REFUSED) from None
    finally:
        track.stop()
    if runner.failure is not None:
        raise _fail(runner.failure, EXIT_SOURCE)


app = typer.Typer(add_completion=False, rich_markup_mode="markdown", pretty_exceptions_enable=False)
app.command()(agent)

if __name__ == "__main__":
    app()
