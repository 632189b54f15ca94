"""``lensguard evidence key`` and ``rotate-key`` as child processes on a migrated SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.identity.signing_keys import public_key_from_jwk
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.harness.server import strong_secret

pytestmark = pytest.mark.process


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENSGUARD_")}
    return subprocess.run(
        [sys.executable, "-m", "lensguard", "-c", str(config), "evidence", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


async def test_key_prints_jwks_and_pem_and_rotation_keeps_the_old_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lensguard.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    config = tmp_path / "lensguard.yaml"
    settings = {"var_dir": str(tmp_path / "var"), "secret_key": strong_secret()}
    config.write_text(yaml.safe_dump(settings | {"database": {"url": url}}))

    none = await asyncio.to_thread(run, config, "key")
    assert none.returncode == 2 and "no evidence key yet" in none.stderr

    first = await asyncio.to_thread(run, config, "rotate-key")
    assert first.returncode == 0, first.stderr
    second = await asyncio.to_thread(run, config, "rotate-key")
    kids = [first.stdout.strip(), second.stdout.strip()]
    assert all(kid.startswith("evidence-") for kid in kids) and kids[0] != kids[1]

    shown = await asyncio.to_thread(run, config, "key")
    assert shown.returncode == 0, shown.stderr
    keys = json.loads(shown.stdout)["keys"]
    assert [k["kid"] for k in keys] == kids[::-1]  # newest first, the retired one kept
    assert {(k["use"], k["alg"], k["crv"]) for k in keys} == {("sig", "EdDSA", "Ed25519")}
    pem = await asyncio.to_thread(run, config, "key", "--pem")
    assert pem.stdout.startswith(f"# {kids[1]} (signing)\n-----BEGIN PUBLIC KEY-----")
    assert f"# {kids[0]} (retired)" in pem.stdout
    block = pem.stdout.split("\n# ")[0].split("\n", 1)[1]
    assert load_pem_public_key(block.encode()) == public_key_from_jwk(keys[0])

    db = Database(url)
    try:
        async with db.sessions() as session:
            rotated = await session.execute(
                select(AuditEntry.resource_id).where(AuditEntry.action == "evidence.key_rotated")
            )
            assert list(rotated.scalars()) == kids
    finally:
        await db.dispose()
