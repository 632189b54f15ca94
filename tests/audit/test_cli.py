"""``lensguard audit`` as a user runs it: real processes, a real database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import delete, update

from lensguard.audit import AuditLog, verify_checkpoint_signature
from lensguard.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.audit.support import lensguard_cli, login
from tests.harness.server import strong_secret

pytestmark = pytest.mark.process  # runs lensguard as a child process


ENTRIES = 30


@dataclass
class Setup:
    config: Path
    secret: str
    db: Database
    log: AuditLog

    def run(self, *args: str) -> tuple[int, str, str]:
        result = lensguard_cli(
            self.config, "audit", *args, env={"LENSGUARD_SECRET_KEY": self.secret}
        )
        return result.returncode, result.stdout, result.stderr


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    secret = strong_secret()
    url = f"sqlite+aiosqlite:///{tmp_path / 'lensguard.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    config = tmp_path / "lensguard.yaml"
    config.write_text(yaml.safe_dump({"var_dir": str(tmp_path / "var"), "database": {"url": url}}))
    db = Database(url)
    log = AuditLog.from_secret(secret, checkpoint_every=10)
    async with db.transaction() as session:
        for i in range(ENTRIES):
            outcome = "failure" if i % 3 else "success"
            await log.append(session, login(f"user{i % 5}", outcome=outcome))
    try:
        yield Setup(config, secret, db, log)
    finally:
        await db.dispose()


async def cli(setup: Setup, *args: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(setup.run, *args)


async def test_verify_ok_then_broken_entry_exits_1(setup: Setup) -> None:
    code, out, err = await cli(setup, "verify")
    assert (code, out) == (0, f"OK: {ENTRIES} entries verified\n"), err
    async with setup.db.transaction() as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == 7).values(outcome="denied")
        )
    code, out, _ = await cli(setup, "verify")
    assert code == 1
    assert out == (
        "BROKEN at entry 7: entry 7 was altered (its hash does not match) "
        "(6 entries verified before it)\n"
    )


async def test_checkpoint_file_then_truncation_is_caught(setup: Setup, tmp_path: Path) -> None:
    out_file = tmp_path / "checkpoint.json"
    code, _, err = await cli(setup, "checkpoint", "--out", str(out_file))
    assert code == 0, err
    assert f"checkpoint at entry {ENTRIES} written to" in err
    document = json.loads(out_file.read_text())
    assert document["seq"] == ENTRIES
    assert verify_checkpoint_signature(document, setup.log.checkpoint_public_key)
    code, stdout, _ = await cli(setup, "checkpoint")
    assert code == 0 and json.loads(stdout) == document  # same head: the same checkpoint
    # Truncate the tail as an attacker would: entries, checkpoints and head together.
    async with setup.db.transaction() as session:
        kept = await session.get(AuditEntry, 20)
        assert kept is not None
        await session.execute(delete(AuditEntry).where(AuditEntry.seq > 20))
        await session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > 20))
        await session.execute(update(AuditHead).values(last_seq=20, last_hash=kept.entry_hash))
    assert (await cli(setup, "verify"))[0] == 0
    code, out, _ = await cli(setup, "verify", "--from-checkpoint", str(out_file))
    assert code == 1
    assert out.startswith(
        f"BROKEN at entry 21: entry 21 is missing: the exported checkpoint vouches for {ENTRIES}"
    )


async def test_unusable_checkpoint_files_are_usage_errors(setup: Setup, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = await cli(setup, "verify", "--from-checkpoint", str(bad))
    assert code == 2 and "cannot read checkpoint" in err and "Traceback" not in err
    bad.write_text(json.dumps({"type": "lensguard-audit-checkpoint/1", "seq": 1}))
    code, _, err = await cli(setup, "verify", "--from-checkpoint", str(bad))
    assert code == 2 and "checkpoint lacks entry_hash, ts, signature" in err


async def test_export_filters_and_refuses_bad_dates(setup: Setup) -> None:
    code, out, err = await cli(setup, "export", "--action", "auth.*", "--actor", "user1")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["seq"] for r in rows] == [2, 7, 12, 17, 22, 27]
    assert all(r["actor_name"] == "user1" for r in rows)
    assert f"{len(rows)} entries exported (jsonl)" in err
    code, out, _ = await cli(setup, "export", "--since", "2999-01-01")
    assert (code, out) == (0, "")
    code, _, err = await cli(setup, "export", "--since", "last tuesday")
    assert code == 2 and "ISO 8601" in err
