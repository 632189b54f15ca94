"""``lensguard certs``: the internal CA for server and device certificates.

``init`` makes the CA and its first revocation list; ``issue server`` and ``issue
device`` sign leaves and write them 0600; ``list`` shows what was issued; ``revoke``
publishes a new list (every node loads it within ``security.pki.crl_refresh_seconds``,
and open device sockets close at once); ``rotate`` issues a replacement for the same
names or device; ``crl`` re-signs the list. Each step is audited.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import or_, select

from lensguard.cli.context import (
    append_success,
    audit_log_for,
    console,
    database_for,
    friendly_errors,
    run_refusing,
    services_for,
    settings_from,
)
from lensguard.errors import NotFound, ValidationFailed
from lensguard.logs import configure_logging
from lensguard.pki import registry
from lensguard.pki.authority import (
    REASONS,
    Authority,
    Issued,
    init_authority,
    issue_device,
    issue_server,
    load_authority,
)
from lensguard.pki.listener import ca_dir
from lensguard.pki.models import IssuedCertificate, RevocationList
from lensguard.private import private_dir, write_private
from lensguard.settings import Settings
from lensguard.store.db import Database
from lensguard.store.models import Device
from lensguard.store.types import utcnow
from lensguard.tls import cert_fingerprint

app = typer.Typer(
    help="The internal certificate authority: server and device certificates, revocation.",
    no_args_is_help=True,
)
issue_app = typer.Typer(help="Sign a server or device certificate.", no_args_is_help=True)
app.add_typer(issue_app, name="issue")
ACTOR = "certs-cli"

CaDir = Annotated[
    Path | None,
    typer.Option(
        "--ca-dir",
        help="The CA's directory (default security.pki.directory, else var/pki); "
        "point it at removable media to keep the CA key offline.",
        file_okay=False,
    ),
]
Out = Annotated[
    Path,
    typer.Option(help="Directory to write the certificate and key to (created 0700)."),
]


def _settings(ctx: typer.Context) -> Settings:
    configure_logging("WARNING")
    return settings_from(ctx)


def _directory(settings: Settings, given: Path | None) -> Path:
    return given or ca_dir(settings)


def _authority(settings: Settings, given: Path | None) -> Authority:
    with friendly_errors():
        return load_authority(_directory(settings, given))
    raise AssertionError("unreachable")  # pragma: no cover - friendly_errors exits


async def _audited(
    db: Database, settings: Settings, action: str, resource_id: str, **details: Any
) -> None:
    await append_success(
        db,
        audit_log_for(settings),
        action,
        actor=ACTOR,
        resource_type="certificate",
        resource_id=resource_id,
        details=details,
    )


async def _publish(db: Database, ca: Authority, settings: Settings) -> RevocationList:
    """Sign and store the next revocation list, valid ``crl_validity_days``."""
    days = settings.security.pki.crl_validity_days
    return await registry.publish_crl(db, ca, now=utcnow(), days=days)


def _write(out: Path, stem: str, issued: Issued) -> tuple[Path, Path]:
    private_dir(out)
    cert_path, key_path = out / f"{stem}-cert.pem", out / f"{stem}-key.pem"
    write_private(key_path, issued.key_pem)
    write_private(cert_path, issued.cert_pem)
    return cert_path, key_path


@app.command("init")
def init(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="The CA's common name.")] = "lensguard internal CA",
    ca_dir_option: CaDir = None,
) -> None:
    """Make the CA (a P-256 key, valid 10 years) and its first, empty revocation list.

    An existing CA is never overwritten. Give agents the CA certificate only if the
    server's own certificate comes from this CA; the key never leaves its directory.
    """
    settings = _settings(ctx)
    directory = _directory(settings, ca_dir_option)
    with friendly_errors():
        ca = init_authority(directory, name=name, now=utcnow())

    async def work() -> int:
        async with database_for(settings) as db:
            crl = await _publish(db, ca, settings)
            fingerprint = cert_fingerprint(ca.cert)
            await _audited(db, settings, "pki.init", fingerprint, directory=str(directory))
        return crl.number

    number = run_refusing(work())
    console.print(f"CA created in {directory} (key 0600). Revocation list {number} published.")
    console.print(f"CA certificate: {ca.cert_path}")
    console.print(f"SHA-256 fingerprint: {cert_fingerprint(ca.cert)}")


@issue_app.command("server")
def issue_server_command(
    ctx: typer.Context,
    name: Annotated[
        list[str],
        typer.Option("--name", help="DNS name or IP address; repeatable (the first is the CN)."),
    ],
    days: Annotated[int, typer.Option(min=1, max=825, help="Validity in days.")] = 90,
    out: Out = Path("."),
    ca_dir_option: CaDir = None,
) -> None:
    """Sign a server certificate; point security.encryption.certificate and .key at it."""
    settings = _settings(ctx)
    ca = _authority(settings, ca_dir_option)
    with friendly_errors():
        issued = issue_server(ca, name, now=utcnow(), days=days)

    async def work() -> None:
        async with database_for(settings) as db:
            async with db.transaction() as session:
                await registry.record(session, issued, kind="server", names=name)
            await _audited(db, settings, "pki.issue", issued.serial, kind="server", names=name)

    run_refusing(work())
    cert_path, key_path = _write(out, name[0], issued)
    console.print(f"Server certificate {issued.serial} for {', '.join(name)}: {cert_path}")
    console.print(f"Key: {key_path}. Reload a running server with SIGHUP.")


async def _device(db: Database, device: str) -> Device:
    async with db.sessions() as session:
        row = await session.scalar(
            select(Device).where(or_(Device.id == device, Device.name == device))
        )
    if row is None:
        raise NotFound(f"no device is named or numbered {device!r} (`lensguard admin devices`)")
    return row


@issue_app.command("device")
def issue_device_command(
    ctx: typer.Context,
    device: Annotated[str, typer.Argument(help="The device's name or id.")],
    days: Annotated[int, typer.Option(min=1, max=825, help="Validity in days.")] = 365,
    out: Out = Path("."),
    ca_dir_option: CaDir = None,
) -> None:
    """Sign a client certificate for a registered device (mutual TLS).

    Give the agent the two files with --client-cert and --client-key.
    """
    settings = _settings(ctx)
    ca = _authority(settings, ca_dir_option)

    async def work() -> tuple[Device, Issued]:
        async with database_for(settings) as db:
            found = await _device(db, device)
            issued = issue_device(ca, found.id, found.name, now=utcnow(), days=days)
            async with db.transaction() as session:
                await registry.record(session, issued, kind="device", device_id=found.id)
            serial = issued.serial
            await _audited(db, settings, "pki.issue", serial, kind="device", device_id=found.id)
        return found, issued

    found, issued = run_refusing(work())
    cert_path, key_path = _write(out, found.name, issued)
    console.print(f"Device certificate {issued.serial} for {found.name}: {cert_path}")
    console.print(f"Run the agent with --client-cert {cert_path} --client-key {key_path}")


def _state(row: IssuedCertificate, now: datetime) -> str:
    if row.revoked_at is not None:
        return f"revoked ({row.revoke_reason})"
    if row.not_after <= now:
        return "expired"
    return f"valid, {(row.not_after - now).days} d left"


@app.command("list")
def list_command(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Every certificate the CA issued, newest first, with its state."""
    if output not in ("table", "json"):
        raise typer.BadParameter("--format must be table or json")
    settings = _settings(ctx)

    async def work() -> list[IssuedCertificate]:
        async with database_for(settings) as db:
            return await registry.listing(db)

    rows, now = run_refusing(work()), utcnow()
    if output == "json":
        console.print_json(
            json.dumps(
                [
                    {
                        "serial": r.serial,
                        "kind": r.kind,
                        "subject": r.common_name,
                        "names": r.name_list,
                        "device_id": r.device_id,
                        "fingerprint": r.fingerprint,
                        "not_after": r.not_after.isoformat(),
                        "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
                        "revoke_reason": r.revoke_reason,
                        "state": _state(r, now),
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table("serial", "kind", "subject", "expires", "state")
    for r in rows:
        table.add_row(r.serial, r.kind, r.common_name, f"{r.not_after:%Y-%m-%d}", _state(r, now))
    console.print(table)


@app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    serial: Annotated[str, typer.Argument(help="The serial, as `lensguard certs list` shows.")],
    reason: Annotated[str, typer.Option(help=f"One of {', '.join(REASONS)}.")] = "unspecified",
    ca_dir_option: CaDir = None,
) -> None:
    """Revoke a certificate and publish the new list.

    A device's open sockets close at once on every node; new handshakes with the
    certificate fail once each node loaded the list (security.pki.crl_refresh_seconds,
    or SIGHUP).
    """
    if reason not in REASONS:
        raise typer.BadParameter(f"--reason must be one of {', '.join(REASONS)}")
    settings = _settings(ctx)
    ca = _authority(settings, ca_dir_option)

    async def work() -> tuple[IssuedCertificate, int]:
        async with services_for(settings) as services:
            async with services.db.transaction() as session:
                row = await registry.revoke(session, serial, reason=reason, at=utcnow())
            crl = await _publish(services.db, ca, settings)
            if row.device_id is not None:
                await services.announce(device_id=row.device_id, reason="certificate revoked")
            details = {"reason": reason, "crl_number": crl.number}
            await _audited(services.db, settings, "pki.revoke", row.serial, **details)
        return row, crl.number

    row, number = run_refusing(work())
    console.print(f"Revoked {row.serial} ({row.common_name}); revocation list {number} published.")


@app.command("rotate")
def rotate_command(  # noqa: PLR0917 - typer maps each parameter to an option
    ctx: typer.Context,
    serial: Annotated[str, typer.Argument(help="The certificate to replace.")],
    days: Annotated[int | None, typer.Option(min=1, max=825, help="Validity in days.")] = None,
    out: Out = Path("."),
    revoke_old: Annotated[
        bool,
        typer.Option(
            help="Revoke the old certificate (superseded) at once; by default it "
            "stays valid until you deploy the new one and revoke it."
        ),
    ] = False,
    ca_dir_option: CaDir = None,
) -> None:
    """Issue a replacement for the same names or device, with a new key."""
    settings = _settings(ctx)
    ca = _authority(settings, ca_dir_option)

    async def work() -> tuple[IssuedCertificate, Issued, str]:
        async with database_for(settings) as db:
            async with db.sessions() as session:
                old = await registry.find(session, serial)
            now = utcnow()
            if old.kind == "server":
                issued = issue_server(ca, old.name_list, now=now, days=days or 90)
                stem = old.name_list[0]
            else:
                if old.device_id is None:
                    raise ValidationFailed(f"certificate {old.serial} names no device")
                found = await _device(db, old.device_id)
                issued = issue_device(ca, found.id, found.name, now=now, days=days or 365)
                stem = found.name
            async with db.transaction() as session:
                await registry.record(
                    session, issued, kind=old.kind, names=old.name_list, device_id=old.device_id
                )
                if revoke_old:
                    await registry.revoke(session, old.serial, reason="superseded", at=now)
            if revoke_old:
                await _publish(db, ca, settings)
            details = {"replaces": old.serial, "revoked_old": revoke_old}
            await _audited(db, settings, "pki.rotate", issued.serial, **details)
        return old, issued, stem

    old, issued, stem = run_refusing(work())
    cert_path, key_path = _write(out, stem, issued)
    console.print(
        f"Certificate {issued.serial} replaces {old.serial}: {cert_path} (key {key_path})"
    )
    if not revoke_old:
        console.print(f"Deploy it, then: lensguard certs revoke {old.serial} --reason superseded")


@app.command("crl")
def crl_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option(help="Also write the list (PEM) to this file.", dir_okay=False)
    ] = None,
    ca_dir_option: CaDir = None,
) -> None:
    """Sign a fresh revocation list now (nodes holding the CA key do this on their own)."""
    settings = _settings(ctx)
    ca = _authority(settings, ca_dir_option)

    async def work() -> tuple[int, str]:
        async with database_for(settings) as db:
            crl = await _publish(db, ca, settings)
        return crl.number, crl.pem

    number, pem = run_refusing(work())
    if out is not None:
        out.write_text(pem)
    console.print(f"Revocation list {number} published" + (f"; written to {out}" if out else "."))
