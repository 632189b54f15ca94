"""``lensguard deploy render TARGET``: deployment files rendered from the settings."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from lensguard.cli.context import errors, friendly_errors, settings_from
from lensguard.cli.turn import secret_and_realm
from lensguard.deploy import coturn
from lensguard.deploy.options import MEDIA_PORTS, TURN_RELAY_PORTS, DeployOptions, PortRange
from lensguard.deploy.targets import COTURN, TARGETS, names
from lensguard.logs import configure_logging
from lensguard.private import open_private


def _help() -> str:
    lines = [
        "Render one deployment file from the settings (docs/secure.md).\n\n"
        "TARGET is one of (usual place in brackets):\n"
    ]
    for name, target in sorted(TARGETS.items()):
        lines.append(f"\n- **{name}**: {target.summary} [{target.install}]\n")
    lines.append(
        f"\n- **{COTURN}**: hardened turnserver.conf, ports from turn.urls; holds the "
        "TURN secret, so --out writes it 0600 (`lensguard turn config` has every knob)\n"
    )
    return "".join(lines)


app = typer.Typer(
    help="Deployment files: nginx, firewalls, fail2ban, coturn, systemd, container, Kubernetes."
)


def _ports(text: str) -> PortRange:
    with friendly_errors():
        return PortRange.parse(text)
    raise AssertionError("unreachable")  # pragma: no cover - friendly_errors exits


def _default_executable() -> Path:
    """The ``lensguard`` script beside this interpreter (a virtualenv's), else on PATH."""
    beside = Path(sys.executable).parent / "lensguard"
    if beside.exists():
        return beside.absolute()
    found = shutil.which("lensguard")
    return Path(found).absolute() if found else DeployOptions.executable


def _write(out: Path, text: str) -> None:
    """Write ``text`` to ``out`` with mode 0644 whatever the umask (public config)."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o644)
        fh.write(text)


@app.command("render", help=_help())
def render(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help=f"One of: {', '.join(names())}.")],
    *,
    out: Annotated[Path | None, typer.Option(help="Write here (mode 0644), not stdout.")] = None,
    server_name: Annotated[str, typer.Option(help="nginx: the public DNS name.")] = "_",
    https_port: Annotated[int, typer.Option(min=1, max=65535, help="nginx listens here.")] = 443,
    ssh_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Firewalls keep it open; 0: closed.")
    ] = 22,
    media_ports: Annotated[
        str, typer.Option(help="Firewalls: UDP range of the relay's ICE sockets.")
    ] = "{}-{}".format(*MEDIA_PORTS),
    turn_relay_ports: Annotated[
        str, typer.Option(help="Firewalls and coturn: TURN relay range.")
    ] = "{}-{}".format(*TURN_RELAY_PORTS),
    executable: Annotated[
        Path | None, typer.Option(help="systemd: the lensguard program (default: this one).")
    ] = None,
    user: Annotated[
        str, typer.Option(help="systemd: account to run as; `dynamic` for DynamicUser.")
    ] = "lensguard",
    log_file: Annotated[
        Path | None, typer.Option(help="fail2ban: read this file, not the journal.")
    ] = None,
    secret_from_env: Annotated[
        str | None, typer.Option(help="coturn: read the static-auth-secret from this variable.")
    ] = None,
    image: Annotated[
        str, typer.Option(help="kubernetes: the image to run (name:tag or name@digest).")
    ] = DeployOptions.image,
) -> None:
    configure_logging("WARNING")
    if target not in names():
        errors.print(
            f"[red]error:[/red] unknown target {target!r}; valid targets: {', '.join(names())}"
        )
        raise typer.Exit(2)
    settings = settings_from(ctx)
    config: Path | None = (ctx.obj or {}).get("config")
    options = DeployOptions(
        server_name=server_name,
        https_port=https_port,
        ssh_port=ssh_port,
        media_ports=_ports(media_ports),
        turn_relay_ports=_ports(turn_relay_ports),
        executable=executable or _default_executable(),
        config_file=config.absolute() if config is not None else None,
        user=user,
        log_file=log_file,
        image=image,
    )
    with friendly_errors():
        if target == COTURN:
            secret, realm = secret_and_realm(ctx, secret_from_env)
            text = coturn.render(
                coturn.from_settings(settings, options), secret=secret, realm=realm
            )
        else:
            text = TARGETS[target].render(settings, options)
    if out is None:
        typer.echo(text, nl=False)
        return
    if target == COTURN:
        with open_private(out, "w") as fh:  # it holds the TURN secret
            fh.write(text)
    else:
        _write(out, text)
    errors.print(f"wrote {out}")
