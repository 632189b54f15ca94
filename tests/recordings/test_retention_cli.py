"""``lensguard recordings retention`` as an operator runs it: a child process, the local store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from lensguard.recordings.keys import KeyRing
from lensguard.recordings.store import LocalStore
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.audit.support import MASTER, make_log
from tests.recordings.retention_support import daily, record, rows_of, verified
from tests.recordings.test_cli import Setup

pytestmark = pytest.mark.process  # runs lensguard as a child process

# Far enough back that the system clock the command runs on finds it expired.
LONG_AGO = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


async def test_dry_run_lists_what_would_go_then_a_run_removes_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lensguard.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    config = tmp_path / "lensguard.yaml"
    config.write_text(yaml.safe_dump({"var_dir": str(tmp_path / "var"), "database": {"url": url}}))
    db = Database(url)
    try:
        store = LocalStore(tmp_path / "var" / "recordings")
        ring = KeyRing.from_secret("cli-tests-master-secret-0123456789-abcdefghijkl")
        old, rows = await record(
            db, store, ring, make_log(), device_id="cam-old", starts=daily(3, LONG_AGO)
        )
        recent = datetime.now(UTC) - timedelta(days=1)
        new, _ = await record(db, store, ring, make_log(), device_id="cam-new", starts=[recent])
        setup = Setup(config, db, rows)
        env = {"LENSGUARD_SECRET_KEY": MASTER}

        code, out, err = setup.run("retention", "--dry-run", env=env)
        assert code == 0, err
        assert "cam-old" in out and "cam-new" not in out
        assert "2024-01-01 12:00" in out and "2024-01-03 12:00" in out
        assert "would remove 3 segments" in out
        assert "continuous 3" in out and "0 expired segments kept under legal hold" in out
        assert len(await rows_of(db, old)) == 3

        code, out, err = setup.run("retention", env=env)
        assert code == 0, err
        assert "removed 3 segments" in out
        assert await rows_of(db, old) == []
        assert len(await rows_of(db, new)) == 1
        assert (await verified(db, store, new)).ok
        assert sorted(await store.list()) == sorted(r.id for r in await rows_of(db, new))

        code, out, _ = setup.run("verify")
        assert code == 0 and out.startswith("OK: 1 recordings, 1 segments")
        code, out, _ = setup.run("retention", "--help")
        assert "legal hold" in out and "--dry-run" in out
    finally:
        await db.dispose()
