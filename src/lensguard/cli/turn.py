"""``lensguard turn config``: coturn's ``turnserver.conf`` with every knob as an option.

The same file as ``lensguard deploy render coturn`` (``deploy/coturn.py`` renders both).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from lensguard.bootstrap import resolve_secrets
from lensguard.cli.context import errors, friendly_errors, settings_from
from lensguard.deploy.coturn import TurnConfig, render
from lensguard.errors import ConfigurationError
from lensguard.media.turn import turn_secret
from lensguard.private import open_private
from lensguard.settings import weakness

app = typer.Typer(help="Deploy coturn for TURN relaying.", no_args_is_help=True)


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an IP address") from None


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an IP network (CIDR)") from None


def secret_and_realm(ctx: typer.Context, env_var: str | None) -> tuple[str, str]:
    """(secret, realm): the secret from ``env_var`` when given, else from settings."""
    settings = settings_from(ctx)
    with friendly_errors():
        if env_var is None:
            # Dev mode derives the TURN secret from secret_key, which may live in var_dir.
            resolved = resolve_secrets(settings) if settings.is_dev else settings
            return turn_secret(resolved), settings.turn.realm
        value = os.environ.get(env_var, "")
        reason = "it is empty" if not value else weakness(value)
        if reason is not None:
            raise ConfigurationError(f"${env_var} is unfit as static-auth-secret because {reason}")
        return value, settings.turn.realm
    raise AssertionError("unreachable")  # pragma: no cover - friendly_errors exits


@app.command("config")
def config(
    ctx: typer.Context,
    *,
    out: Annotated[Path | None, typer.Option(help="Write here (mode 0600), not stdout.")] = None,
    secret_from_env: Annotated[
        str | None, typer.Option(help="Read the static-auth-secret from this variable.")
    ] = None,
    listening_ip: Annotated[list[str], typer.Option(parser=_address, help="Repeatable.")] = [],  # noqa: B006
    relay_ip: Annotated[list[str], typer.Option(parser=_address, help="Repeatable.")] = [],  # noqa: B006
    external_ip: Annotated[str | None, typer.Option(help="Public address behind 1:1 NAT.")] = None,
    listening_port: Annotated[int, typer.Option(min=1, max=65535)] = 3478,
    tls_listening_port: Annotated[int, typer.Option(min=1, max=65535)] = 5349,
    min_port: Annotated[int, typer.Option(min=1024, max=65535)] = 49152,
    max_port: Annotated[int, typer.Option(min=1024, max=65535)] = 65535,
    cert: Annotated[Path | None, typer.Option(help="TLS certificate chain (PEM).")] = None,
    pkey: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    no_tcp_relay: Annotated[
        bool, typer.Option("--no-tcp-relay", help="Refuse TCP relay allocations.")
    ] = False,
    user_quota: Annotated[int, typer.Option(min=1, help="Sessions per username.")] = 12,
    total_quota: Annotated[int, typer.Option(min=1, help="Sessions in all.")] = 1200,
    max_bps: Annotated[int, typer.Option(min=0, help="Bytes/s per session; 0: none.")] = 500_000,
    allow_peer: Annotated[
        list[str], typer.Option(parser=_network, help="CIDR to exempt (e.g. the media node).")
    ] = [],  # noqa: B006
) -> None:
    """Render turnserver.conf: REST-API secrets, quotas, and every reserved range denied."""
    if (cert is None) != (pkey is None):
        raise typer.BadParameter("give both --cert and --pkey, or neither")
    if min_port > max_port:
        raise typer.BadParameter("--min-port must not exceed --max-port")
    secret, realm = secret_and_realm(ctx, secret_from_env)
    wanted = TurnConfig(
        listening_ips=listening_ip,
        relay_ips=relay_ip,
        external_ip=_address(external_ip) if external_ip else None,
        listening_port=listening_port,
        tls_listening_port=tls_listening_port,
        min_port=min_port,
        max_port=max_port,
        cert=cert,
        pkey=pkey,
        no_tcp_relay=no_tcp_relay,
        user_quota=user_quota,
        total_quota=total_quota,
        max_bps=max_bps,
        allowed_peers=allow_peer,
    )
    with friendly_errors():
        text = render(wanted, secret=secret, realm=realm)
    if out is None:
        typer.echo(text, nl=False)
        return
    with open_private(out, "w") as fh:  # it holds the TURN secret
        fh.write(text)
    errors.print(f"wrote {out}")
