"""Start-up recovery: this node's interrupted recordings sealed, another node's left alone."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.recordings import index
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import OpenRecording
from lensguard.recordings.recovery import INTERRUPTED, node_id, recover
from lensguard.recordings.segments import write_segment
from lensguard.recordings.store import LocalStore
from lensguard.recordings.verify import verify_recording
from lensguard.store.db import Database
from tests.audit.support import make_log

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
RING = KeyRing.from_secret("recovery-tests-master-secret-0123456789-abcdefgh")


async def recording(db: Database, store: LocalStore, recording_id: str, node: str, n: int) -> None:
    async with db.transaction() as session:
        session.add(
            OpenRecording(
                recording_id=recording_id, device_id="d" * 32, stream="processed", node_id=node
            )
        )
    for i in range(n):
        await write_segment(
            db,
            store,
            RING,
            recording_id=recording_id,
            device_id="d" * 32,
            stream="processed",
            started_at=START + timedelta(seconds=2 * i),
            ended_at=START + timedelta(seconds=2 * (i + 1)),
            plaintext=os.urandom(500),
        )


async def test_recovery_seals_this_nodes_recordings_only(db: Database, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "recordings")
    audit = make_log()
    mine, empty, theirs = "a" * 32, "b" * 32, "c" * 32
    await recording(db, store, mine, "node-1", 3)
    await recording(db, store, empty, "node-1", 0)  # died before its first segment
    await recording(db, store, theirs, "node-2", 2)  # running on another node right now
    (store.root / ".partial-0123").write_bytes(b"half")

    done = await recover(db, audit, store, "node-1")
    assert (done.sealed, done.empty, done.partials) == (1, 1, 1)
    async with db.sessions() as session:
        head = await index.latest_anchor(session, mine)
        report = await verify_recording(session, store, mine)
        left = (await session.execute(select(OpenRecording.recording_id))).scalars().all()
        other = await index.latest_anchor(session, theirs)
    assert head is not None and head.sealed and head.segments == 3
    assert report.ok and report.anchored
    assert list(left) == [theirs] and other is None
    # Idempotent: a second start-up finds nothing of its own.
    again = await recover(db, audit, store, "node-1")
    assert (again.sealed, again.empty, again.partials) == (0, 0, 0)
    async with db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.details).where(AuditEntry.resource_id == mine)
        )
        assert [INTERRUPTED in d for d in rows.scalars()] == [True]


def test_the_node_id_is_kept_in_the_var_dir(tmp_path: Path) -> None:
    first = node_id(tmp_path / "var")
    assert first == node_id(tmp_path / "var") and len(first) == 32
    assert (tmp_path / "var" / "node-id").stat().st_mode & 0o077 == 0
    assert node_id(tmp_path / "other") != first
