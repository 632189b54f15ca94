"""SIGKILL a process in the middle of audited commits: nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.store.db import Database
from tests.audit.support import MASTER, ROOT, login, make_log

pytestmark = pytest.mark.process  # runs lensguard as a child process

ACKNOWLEDGED = 400


def run_until_killed(url: str) -> list[int]:
    """Start the writer, read acknowledgements, SIGKILL it mid-stream; the acknowledged seqs."""
    env = {**os.environ, "AUDIT_MASTER": MASTER, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.audit.crash_writer", url, "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seqs: list[int] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if not line.endswith(b"\n"):
                break  # a half-written line is no acknowledgement
            seqs.append(int(line))
            if len(seqs) >= ACKNOWLEDGED:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        _, err = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, err.decode(errors="replace")
    assert len(seqs) >= ACKNOWLEDGED, err.decode(errors="replace")
    return seqs


async def test_killed_writer_loses_no_acknowledged_entry_and_the_chain_verifies(
    db: Database,
) -> None:
    acknowledged = await asyncio.to_thread(run_until_killed, db.url)
    report = await make_log().verify(db)
    assert report.ok, report
    async with db.transaction() as session:
        stored = set((await session.execute(select(AuditEntry.seq))).scalars())
    assert set(acknowledged) <= stored
    assert stored == set(range(1, report.checked + 1))
    # The log keeps working after the crash.
    async with db.transaction() as session:
        assert await make_log().append(session, login("after-crash")) == report.checked + 1
