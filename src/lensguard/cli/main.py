"""Top-level ``lensguard`` command and its groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lensguard.cli import (
    admin,
    agent,
    audit,
    certs,
    compliance,
    config,
    db,
    deploy,
    evidence,
    incident_files,
    incidents,
    keys,
    privacy,
    recordings,
    rekey,
    secret,
    security,
    serve,
    threats,
    token,
    turn,
    worker,
)

app = typer.Typer(
    name="lensguard",
    help=(
        "Security-first live video for robots and cameras.\n\n"
        "Start the embedded server with `lensguard serve`; every command reads the same "
        "settings: a YAML file (--config or $LENSGUARD_CONFIG) with LENSGUARD_* "
        "environment overrides, e.g. LENSGUARD_SERVER__PORT=9443."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="LENSGUARD_CONFIG",
            help="YAML settings file (see config/lensguard.example.yaml).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    ctx.obj = {"config": config_file}


app.command("serve")(serve.serve)
app.command("agent")(agent.agent)
app.command("worker")(worker.worker)
app.add_typer(db.app, name="db")
app.add_typer(admin.app, name="admin")
app.add_typer(config.app, name="config")
app.add_typer(secret.app, name="secret")
app.add_typer(keys.app, name="keys")
app.add_typer(certs.app, name="certs")
app.add_typer(audit.app, name="audit")
app.add_typer(turn.app, name="turn")
app.add_typer(deploy.app, name="deploy")
app.add_typer(recordings.app, name="recordings")
app.add_typer(evidence.app, name="evidence")
privacy.app.command("rekey")(rekey.rekey_command)
app.add_typer(privacy.app, name="privacy")
app.add_typer(compliance.app, name="compliance")
app.add_typer(threats.app, name="threats")
incident_files.register(incidents.app)
app.add_typer(incidents.app, name="incidents")
app.add_typer(token.app, name="token")
app.add_typer(security.app, name="security")
