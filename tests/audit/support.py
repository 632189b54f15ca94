"""Helpers shared by the audit tests: keys, generated events, the CLI as a process."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.protect.subkeys import Purpose, derive

MASTER = "audit-tests-master-secret-0123456789-abcdefghijklmnop"
ROOT = Path(__file__).resolve().parents[2]
ACTIONS = ["auth.login", "auth.logout", "user.role_changed", "stream.view_start", "apikey.created"]
OUTCOMES = ["success", "failure", "denied"]


def make_log(**kwargs: Any) -> AuditLog:
    return AuditLog.from_secret(MASTER, **kwargs)


def chain_key(master: str = MASTER) -> bytes:
    return derive(master, Purpose.AUDIT_CHAIN)


def checkpoint_key(master: str = MASTER) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(derive(master, Purpose.AUDIT_CHECKPOINT))


def login(name: str, *, outcome: str = "success", address: str = "192.0.2.1") -> AuditEvent:
    return AuditEvent(
        action="auth.login",
        outcome=outcome,
        actor_type="user",
        actor_id=f"id-{name}",
        actor_name=name,
        source_address=address,
    )


def random_event(rng: random.Random, i: int) -> AuditEvent:
    """An event with every field filled (so any column can be tampered with)."""
    user = rng.randrange(50)
    return AuditEvent(
        action=rng.choice(ACTIONS),
        outcome=rng.choice(OUTCOMES),
        actor_type="user",
        actor_id=f"user-{user:04d}",
        actor_name=f"name-{user:04d}",
        source_address=f"198.51.100.{rng.randrange(1, 255)}",
        resource_type="camera",
        resource_id=f"cam-{rng.randrange(1000):04d}",
        # "user_agent" is personal (audit.personal_details): sealed in details_sealed.
        details={
            "i": i,
            "note": f"event {i}",
            "nested": {"k": rng.random()},
            "user_agent": f"agent/{rng.randrange(100)}",
        },
    )


def lensguard_cli(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``lensguard -c config …`` with ``audit`` registered even before it is wired."""
    shim = (
        "from lensguard.cli.main import app\n"
        "from lensguard.cli import audit\n"
        "if not any(g.name == 'audit' for g in app.registered_groups):\n"
        "    app.add_typer(audit.app, name='audit')\n"
        "app(prog_name='lensguard')\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("LENSGUARD_")}
    return subprocess.run(
        [sys.executable, "-c", shim, "-c", str(config), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**base, **(env or {})},
    )
