"""``lensguard security audit``: is this deployment hardened? Each check maps to ASVS 5.0."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lensguard.cli.context import console, errors, friendly_errors, settings_from
from lensguard.hardening import report
from lensguard.hardening.config_checks import Host
from lensguard.hardening.findings import Finding, Status, failing
from lensguard.hardening.http_checks import MAX_PROBES
from lensguard.hardening.run import Live, attack, run_audit
from lensguard.identity.tokens import MAX_TOKEN_BYTES
from lensguard.logs import configure_logging
from lensguard.severity import Severity

app = typer.Typer(help="Check a deployment's hardening (docs/secure.md).", no_args_is_help=True)

STATUS_STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.SKIP: "yellow"}

AUDIT_HELP = """Check the settings, the files under var_dir, the accounts in the database
and, with --url, the running server: TLS versions and suites, the certificate, security
headers, CSP, and that API routes refuse callers without credentials.

Every check has an id, a severity, what it saw, the fix and the OWASP ASVS 5.0
requirement it maps to (docs/secure.md lists them). Exit status: 0 when nothing at or
above --fail-on failed, 1 when something did, 2 when the settings cannot be read.
Run it on the server host, as the user the server runs as, with the server's settings.
"""


def _table(findings: list[Finding], title: str = "lensguard security audit") -> Table:
    table = Table(title=title, show_lines=False)
    for column in ("Check", "Severity", "Result", "ASVS", "What was seen"):
        table.add_column(column, overflow="fold")
    for f in findings:
        style = STATUS_STYLE[f.status]
        table.add_row(
            f.id, f.severity.value, f"[{style}]{f.status.value}[/{style}]", f.asvs, f.evidence
        )
    return table


@app.command("audit", help=AUDIT_HELP)
def audit(
    ctx: typer.Context,
    *,
    url: Annotated[
        str | None, typer.Option(help="The deployment's https:// URL, to probe it live.")
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            help="PEM CA bundle that signs the server (private or self-signed).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("--format", help="table (for people) or json (for pipelines).")
    ] = "table",
    fail_on: Annotated[
        Severity, typer.Option(help="Exit 1 when a check of this severity or worse fails.")
    ] = Severity.HIGH,
    max_probes: Annotated[
        int, typer.Option(min=1, max=500, help="At most this many API routes are probed.")
    ] = MAX_PROBES,
) -> None:
    configure_logging("WARNING")
    if output not in ("table", "json"):
        errors.print("[red]error:[/red] --format is table or json")
        raise typer.Exit(2)
    settings = settings_from(ctx)
    config: Path | None = (ctx.obj or {}).get("config")
    target = Live(url, ca_file, max_probes) if url else None
    with friendly_errors():
        findings = asyncio.run(run_audit(settings, Host.here(config), target))
    failed = failing(findings, fail_on)
    if output == "json":
        report = {
            "fail_on": fail_on.value,
            "failed": len(failed),
            "findings": [f.as_json() for f in findings],
        }
        console.print_json(json.dumps(report))
    else:
        console.print(_table(findings))
        for f in [f for f in findings if f.status is Status.FAIL]:
            console.print(f"[red]{f.id}[/red] ({f.severity.value}): {f.fix}")
        console.print(
            f"{sum(f.status is Status.PASS for f in findings)} passed, "
            f"{sum(f.status is Status.FAIL for f in findings)} failed "
            f"({len(failed)} at or above {fail_on.value}), "
            f"{sum(f.status is Status.SKIP for f in findings)} skipped"
        )
    raise typer.Exit(1 if failed else 0)


TEST_HELP = """Attack a running deployment the way an outsider would, and write an HTML report.

Runs the live checks of `security audit` (TLS, headers, unauthenticated API walk),
then forged tokens built from the public JWKS (alg none, HS256 keyed with the public
key, a stranger's key under a real kid, an unknown kid, garbage; with --token-file
also a genuine token with a changed payload), each of which must get 401, then, with
--token-file, the authorisation walk: every GET route whose declared permission the
credential lacks must answer 403. Use the credential of a low-privilege account (a
viewer), from a file, never the command line. Run it from an address the server's
automatic responses leave alone, or they may block the tester mid-run.

Exit status: 1 when a test at or above --fail-on failed, else 0; 2 on bad input.
"""


def _credential(path: Path | None) -> str | None:
    if path is None:
        return None
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if not text or len(text) > MAX_TOKEN_BYTES or not text.isascii() or " " in text:
        errors.print(f"[red]error:[/red] {path} does not hold one token or API key")
        raise typer.Exit(2)
    return text


@app.command("test", help=TEST_HELP)
def test(
    *,
    url: Annotated[str, typer.Option(help="The deployment's https:// URL.")],
    ca_file: Annotated[
        Path | None,
        typer.Option(
            help="PEM CA bundle that signs the server (private or self-signed).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding a low-privilege access token or API key.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Write the HTML report here.")] = Path(
        "security-report.html"
    ),
    fail_on: Annotated[
        Severity, typer.Option(help="Exit 1 when a test of this severity or worse fails.")
    ] = Severity.HIGH,
    max_probes: Annotated[
        int, typer.Option(min=1, max=500, help="At most this many routes in the open walk.")
    ] = MAX_PROBES,
) -> None:
    configure_logging("WARNING")
    credential = _credential(token_file)
    now = datetime.now(UTC)
    findings = attack(Live(url, ca_file, max_probes), credential, now)
    page = report.render(findings, target=url, when=now)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(page)
    console.print(_table(findings, "lensguard security test"))
    failed = failing(findings, fail_on)
    console.print(f"{len(failed)} failed at or above {fail_on.value}; report: {out}")
    raise typer.Exit(1 if failed else 0)
