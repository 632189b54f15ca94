"""``lensguard audit verify`` on a pruned log, ``lensguard privacy retention`` pruning it,
and a pruning run killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import delete, func, select, update

from lensguard.audit.anchors import AuditAnchor, newest_anchor
from lensguard.audit.log import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.audit.prune import prune
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.audit.support import MASTER, ROOT, lensguard_cli, login, make_log
from tests.harness.server import strong_secret

pytestmark = pytest.mark.process  # runs lensguard as a child process

DAY = timedelta(days=1)
OLD, NEW = 30, 10


def past(days: int) -> datetime:
    return datetime.now(UTC) - days * DAY


async def fill(db: Database, secret: str, *, old: int, checkpoint_every: int) -> AuditLog:
    """``old`` entries 200 days old, then ``NEW`` written now."""
    then = AuditLog.from_secret(secret, checkpoint_every=checkpoint_every, clock=lambda: past(200))
    async with db.transaction() as session:
        for i in range(old):
            await then.append(session, login(f"user{i % 3}"))
    log = AuditLog.from_secret(secret, checkpoint_every=checkpoint_every)
    async with db.transaction() as session:
        for i in range(NEW):
            await log.append(session, login(f"late{i}"))
    return log


@dataclass
class Setup:
    config: Path
    secret: str
    db: Database
    log: AuditLog

    async def run(self, *args: str) -> tuple[int, str, str]:
        env = {"LENSGUARD_SECRET_KEY": self.secret, "COLUMNS": "120"}
        result = await asyncio.to_thread(lensguard_cli, self.config, *args, env=env)
        return result.returncode, result.stdout, result.stderr

    async def verify(self) -> tuple[int, str, str]:
        return await self.run("audit", "verify")


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    secret = strong_secret()
    url = f"sqlite+aiosqlite:///{tmp_path / 'lensguard.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    config = tmp_path / "lensguard.yaml"
    config.write_text(yaml.safe_dump({"var_dir": str(tmp_path / "var"), "database": {"url": url}}))
    db = Database(url)
    try:
        yield Setup(config, secret, db, await fill(db, secret, old=OLD, checkpoint_every=10))
    finally:
        await db.dispose()


async def test_verify_says_it_started_from_the_anchor_and_fails_on_a_forged_one(
    setup: Setup,
) -> None:
    now = datetime.now(UTC)
    result = await prune(setup.db, setup.log, before=now - 180 * DAY, now=now)
    assert (result.removed, result.anchor_seq) == (OLD, OLD)
    signed = now.isoformat()
    code, out, err = await setup.verify()
    assert (code, out) == (
        0,
        f"OK: {NEW} entries verified from the retention anchor at entry {OLD} "
        f"(signed {signed}); entries up to {OLD} were pruned by retention\n",
    ), err

    async with setup.db.transaction() as session:
        await session.execute(update(AuditAnchor).values(seq=OLD - 1))
    code, out, _ = await setup.verify()
    assert (code, out) == (
        1,
        f"BROKEN at entry {OLD - 1}: the retention anchor at entry {OLD - 1} has an invalid "
        f"signature (0 entries verified before it from the retention anchor at entry {OLD - 1} "
        f"(signed {signed}); entries up to {OLD - 1} were pruned by retention)\n",
    )


async def test_an_entry_deleted_after_the_anchor_is_reported_by_the_shell(setup: Setup) -> None:
    now = datetime.now(UTC)
    await prune(setup.db, setup.log, before=now - 180 * DAY, now=now)
    async with setup.db.transaction() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == OLD + 3))
    code, out, _ = await setup.verify()
    assert code == 1
    assert out.startswith(
        f"BROKEN at entry {OLD + 3}: entry {OLD + 3} is missing (2 entries verified before it "
        f"from the retention anchor at entry {OLD}"
    )


async def test_privacy_retention_prunes_the_audit_log_and_says_where_it_starts(
    setup: Setup,
) -> None:
    code, out, err = await setup.run("privacy", "retention", "--dry-run")
    assert code == 0, err
    assert f"audit_log {OLD}" in " ".join(out.replace("│", " ").split())  # the table's row
    assert f"audit log: would start after the signed retention anchor at entry {OLD}" in out
    assert await newest_anchor(setup.db) is None

    code, out, err = await setup.run("privacy", "retention")
    assert code == 0, err
    assert f"audit_log {OLD}" in " ".join(out.replace("│", " ").split())
    assert f"audit log: starts after the signed retention anchor at entry {OLD}" in out
    code, out, _ = await setup.verify()
    assert code == 0 and f"from the retention anchor at entry {OLD} " in out


KILL_AFTER = 3


def prune_until_killed(url: str) -> list[int]:
    """Start a pruning run deleting one entry per batch; SIGKILL it after a few batches."""
    env = {**os.environ, "AUDIT_MASTER": MASTER, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.audit.prune_runner", url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    done: list[int] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            done.append(int(line))
            if len(done) >= KILL_AFTER:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        _, err = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, err.decode(errors="replace")
    assert len(done) == KILL_AFTER, err.decode(errors="replace")
    return done


async def test_a_pruning_run_killed_mid_delete_verifies_and_the_next_run_finishes(
    sqlite_url: str,
) -> None:
    db = Database(sqlite_url)
    try:
        await fill(db, MASTER, old=400, checkpoint_every=100)
        await asyncio.to_thread(prune_until_killed, sqlite_url)
        anchor = await newest_anchor(db)
        assert anchor is not None and anchor.seq == 400
        async with db.sessions() as session:
            left = await session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.seq <= anchor.seq)
            )
        assert left is not None and KILL_AFTER <= 400 - left < 400  # cut off mid-delete
        log = make_log()
        report = await log.verify(db)
        assert (report.ok, report.checked, report.anchor_seq) == (True, NEW, 400)

        now = datetime.now(UTC)
        finished = await prune(db, log, before=now - 180 * DAY, now=now)
        assert (finished.removed, finished.anchor_seq) == (left, 400)
        assert (await log.verify(db)).ok
    finally:
        await db.dispose()
