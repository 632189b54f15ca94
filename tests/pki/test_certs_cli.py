"""``lensguard certs`` in process against a real database: issue, list, revoke, rotate, refuse."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from cryptography import x509
from sqlalchemy import select
from typer.testing import CliRunner, Result

from lensguard.audit.models import AuditEntry
from lensguard.cli import certs
from lensguard.identity.devices import register_device
from lensguard.pki import registry
from lensguard.pki.authority import device_of
from lensguard.services import Services
from lensguard.settings import load_settings
from lensguard.store.db import Database
from tests.identity.test_keys_cli import build_cli, flat, keep_logging, write_config

__all__ = ["keep_logging"]  # the fixture puts logging back after each command


def certs_cli() -> typer.Typer:
    app = build_cli()
    app.add_typer(certs.app, name="certs")
    return app


async def run(config: Path, *args: str) -> Result:
    # In a thread: the command runs its own event loop with asyncio.run.
    return await asyncio.to_thread(
        lambda: CliRunner().invoke(certs_cli(), ["-c", str(config), "certs", *args])
    )


async def test_issue_list_revoke_rotate_and_the_refusals(db: Database, tmp_path: Path) -> None:
    config, _ = write_config(tmp_path, db.url)
    settings = load_settings(config)
    services = Services.build(settings)
    try:
        robot = await register_device(
            services, name="robot-1", site="lab", kind="robot", capabilities=["video"], by=None
        )
    finally:
        await services.close()
    out = tmp_path / "issued"

    made = await run(config, "init", "--name", "Test CA")
    assert made.exit_code == 0, made.output
    assert "Revocation list 1 published" in flat(made.stdout)
    again = await run(config, "init")
    assert again.exit_code == 2 and "never overwritten" in flat(again.output)

    issued = await run(config, "issue", "device", "robot-1", "--days", "30", "--out", str(out))
    assert issued.exit_code == 0, issued.output
    cert = x509.load_pem_x509_certificate((out / "robot-1-cert.pem").read_bytes())
    assert device_of(cert) == robot.device.id
    assert (out / "robot-1-key.pem").stat().st_mode & 0o777 == 0o600
    unknown = await run(config, "issue", "device", "nobody", "--out", str(out))
    assert unknown.exit_code == 2 and "no device is named" in flat(unknown.output)

    listed = await run(config, "list", "--format", "json")
    (row,) = json.loads(listed.stdout)
    assert row["serial"] == f"{cert.serial_number:x}" and row["state"].startswith("valid")

    serial = row["serial"]
    rotated = await run(config, "rotate", serial, "--out", str(tmp_path / "new"))
    assert rotated.exit_code == 0, rotated.output
    assert f"lensguard certs revoke {serial} --reason superseded" in flat(rotated.stdout)

    revoked = await run(config, "revoke", serial.upper(), "--reason", "key_compromise")
    assert revoked.exit_code == 0, revoked.output
    assert "revocation list 2 published" in flat(revoked.stdout)
    twice = await run(config, "revoke", serial)
    assert twice.exit_code == 2 and "already revoked" in flat(twice.output)
    nonsense = await run(config, "revoke", "not-a-serial!")
    assert nonsense.exit_code == 2 and "is not a certificate serial" in flat(nonsense.output)
    reason = await run(config, "revoke", serial, "--reason", "because")
    assert reason.exit_code == 2

    crl = await registry.latest_crl(db)
    assert crl is not None and crl.number == 2
    loaded = x509.load_pem_x509_crl(crl.pem.encode())
    assert loaded.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    states = {
        r["serial"]: r["state"]
        for r in json.loads((await run(config, "list", "--format", "json")).stdout)
    }
    assert states[serial] == "revoked (key_compromise)"
    assert len(states) == 2  # the replacement is valid
    async with db.sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("pki.%"))
                .order_by(AuditEntry.seq)
            )
        )
    assert actions == ["pki.init", "pki.issue", "pki.rotate", "pki.revoke"]
