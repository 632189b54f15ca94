"""The recording class in the index: event clips are linked as such; continuous rows keep
the links they had before the class existed. SQLite and PostgreSQL, local store."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text, update

from lensguard.recordings import index
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.segments import write_segment
from lensguard.recordings.store import LocalStore, new_segment_id
from lensguard.recordings.verify import verify_recording
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.audit.support import make_log

MASTER = "recording-kind-tests-master-secret-0123456789-abcd"
START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DEVICE = "dev-kind"


async def write(
    db: Database, store: LocalStore, ring: KeyRing, recording_id: str, i: int, kind: str
) -> RecordingSegment:
    return await write_segment(
        db,
        store,
        ring,
        recording_id=recording_id,
        device_id=DEVICE,
        stream="processed",
        started_at=START + timedelta(seconds=4 * i),
        ended_at=START + timedelta(seconds=4 * (i + 1)),
        plaintext=os.urandom(1000),
        kind=kind,
    )


async def test_an_event_recording_is_linked_as_one_and_relabelling_it_breaks_the_chain(
    db: Database, tmp_path: Path
) -> None:
    store, ring = LocalStore(tmp_path / "recordings"), KeyRing.from_secret(MASTER)
    recording_id = new_segment_id()
    rows = [await write(db, store, ring, recording_id, i, "event") for i in range(3)]
    assert {row.kind for row in rows} == {"event"}
    async with db.transaction() as session:
        await index.anchor(session, make_log(), recording_id, sealed=True)
    async with db.sessions() as session:
        assert (await verify_recording(session, store, recording_id)).ok
    # A continuous recording's link is what it was before the class existed.
    plain = rows[0]
    continuous = RecordingSegment(**{c: getattr(plain, c) for c in ("id", "recording_id", "seq")})
    for name in ("device_id", "stream", "started_at", "ended_at", "size", "key_id", "digest"):
        setattr(continuous, name, getattr(plain, name))
    continuous.prev_digest, continuous.kind = plain.prev_digest, "continuous"
    assert index.link(continuous) != index.link(plain)
    # Relabelling the clip as continuous video (shorter retention) is detected.
    async with db.transaction() as session:
        await session.execute(
            update(RecordingSegment)
            .where(RecordingSegment.id == rows[1].id)
            .values(kind="continuous")
        )
    async with db.sessions() as session:
        report = await verify_recording(session, store, recording_id)
    assert [f"{p.seq}: {p.reason}" for p in report.problems] == [
        "2: does not follow segment 1 (removed, swapped or edited)"
    ]


async def test_a_recording_has_one_kind_and_only_known_kinds(db: Database, tmp_path: Path) -> None:
    store, ring = LocalStore(tmp_path / "recordings"), KeyRing.from_secret(MASTER)
    recording_id = new_segment_id()
    await write(db, store, ring, recording_id, 0, "continuous")
    with pytest.raises(ValueError, match="one kind"):
        await write(db, store, ring, recording_id, 1, "event")
    with pytest.raises(ValueError, match="kind is"):
        await write(db, store, ring, new_segment_id(), 0, "export")


async def test_rows_from_before_the_class_are_continuous(db_url: str) -> None:
    config = migrate.alembic_config(db_url)
    database = Database(db_url)
    try:
        await database.dispose()
        await asyncio.to_thread(command.downgrade, config, "0010")
        async with database.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO recording_segments (id, recording_id, seq, device_id, stream, "
                    "started_at, ended_at, bytes, key_id, kek_version, wrapped_key, digest, "
                    "prev_digest, created_at) VALUES ('s1', 'r1', 0, 'd1', 'processed', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 10, 'k', 1, NULL, 'x', 'y', "
                    "CURRENT_TIMESTAMP)"
                )
            )
        await database.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
        async with database.sessions() as session:
            kind = await session.execute(text("SELECT kind FROM recording_segments"))
            assert kind.scalar_one() == "continuous"
        await database.dispose()
        await asyncio.to_thread(command.downgrade, config, "0010")
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await database.dispose()
