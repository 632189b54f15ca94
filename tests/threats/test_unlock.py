"""``lensguard admin unlock``: the way back after a response isolated an administrator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from lensguard.audit.models import AuditEntry
from lensguard.guard.blocklist_file import FileBlocklist
from lensguard.store.db import Database
from lensguard.store.models import User
from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process  # runs lensguard as a child process

ADDRESS = "203.0.113.40"


async def test_unlock_enables_the_account_lifts_the_block_and_is_audited(tmp_path: Path) -> None:
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    created = lensguard(
        tmp_path, "admin", "create", "root", "--password-stdin", stdin="a-long-passphrase-42\n"
    )
    assert created.returncode == 0, created.stderr
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'lensguard.db'}")
    try:
        async with database.transaction() as session:
            await session.execute(update(User).values(disabled=True))
        journal = tmp_path / "var" / "blocklist.jsonl"
        await FileBlocklist(journal).block(ADDRESS, ttl=3600, reason="threat:brute_force")
        done = lensguard(tmp_path, "admin", "unlock", "ROOT", "--address", ADDRESS)
        assert done.returncode == 0, done.stderr
        assert "enabled 'root'" in done.stdout and f"unblocked {ADDRESS}" in done.stdout
        assert await FileBlocklist(journal).is_blocked(ADDRESS) is None
        async with database.sessions() as session:
            user = await session.scalar(select(User))
            entry = await session.scalar(
                select(AuditEntry).where(AuditEntry.action == "admin.unlock")
            )
        assert user is not None and not user.disabled
        assert entry is not None and entry.details_sealed is not None
        # The address the account was unblocked for is sealed under the account's key.
        assert json.loads(entry.details) == {"via": "cli", "enabled": True, "unblocked": True}
        assert ADDRESS not in entry.details
    finally:
        await database.dispose()
    again = lensguard(tmp_path, "admin", "unlock", "root")
    assert again.returncode == 0 and "neither disabled nor blocked" in again.stdout
    missing = lensguard(tmp_path, "admin", "unlock", "nobody")
    assert missing.returncode == 2 and "no account named 'nobody'" in missing.stderr
