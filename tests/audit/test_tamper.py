"""Tamper tests over 10,000 entries on SQLite and PostgreSQL.

The chain is generated once per backend; after each test every audit table is put
back from a pristine copy, so each case starts from the same intact 10,000 entries.
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from lensguard.audit import AuditLog, VerifyReport, export_checkpoint
from lensguard.audit.checkpoint import sign_checkpoint
from lensguard.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.audit.support import checkpoint_key, make_log, random_event
from tests.conftest import create_pg_database, drop_pg_database

N = 10_000
TABLES = ("audit_log", "audit_head", "audit_checkpoints", "audit_subject_keys")
COLUMNS = [c.name for c in AuditEntry.__table__.columns]
HEX = set(string.hexdigits.lower())


@dataclass
class Chain:
    """10,000 entries in one database, with the means to damage and repair them."""

    db: Database
    log: AuditLog

    async def verify(self, **kwargs: Any) -> VerifyReport:
        return await self.log.verify(self.db, **kwargs)

    async def entry(self, seq: int) -> dict[str, Any]:
        async with self.db.transaction() as session:
            row = (
                await session.execute(select(AuditEntry.__table__).where(AuditEntry.seq == seq))
            ).one()
        return dict(row._mapping)

    async def set(self, at: int, **values: Any) -> None:
        async with self.db.transaction() as session:
            await session.execute(update(AuditEntry).where(AuditEntry.seq == at).values(**values))

    async def head(self) -> tuple[int, str]:
        async with self.db.transaction() as session:
            row = (await session.execute(select(AuditHead.last_seq, AuditHead.last_hash))).one()
        return row.last_seq, row.last_hash

    async def set_head(self, last_seq: int, last_hash: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(update(AuditHead).values(last_seq=last_seq, last_hash=last_hash))

    async def restore(self) -> None:
        async with self.db.transaction() as session:
            for table in TABLES:
                await session.execute(text(f"DELETE FROM {table}"))
                await session.execute(text(f"INSERT INTO {table} SELECT * FROM {table}_pristine"))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite, else the PostgreSQL admin URL (resolved outside the event loop)."""
    if request.param == "sqlite":
        return None
    admin: str = request.getfixturevalue("pg_admin_url")
    return admin


@pytest.fixture(scope="module")
async def pristine(
    backend: str | None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Chain]:
    pg_name = None
    if backend is None:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('tamper') / 'lensguard.db'}"
    else:
        pg_name, url = await create_pg_database(backend)
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    log = make_log()
    rng = random.Random(20261125)
    for start in range(0, N, 1000):
        async with db.transaction() as session:
            await log.append_many(
                session, [random_event(rng, i) for i in range(start, start + 1000)]
            )
    async with db.transaction() as session:
        for table in TABLES:
            await session.execute(text(f"CREATE TABLE {table}_pristine AS SELECT * FROM {table}"))
    try:
        yield Chain(db, log)
    finally:
        await db.dispose()
        if backend is not None and pg_name is not None:
            await drop_pg_database(backend, pg_name)


@pytest.fixture
async def chain(pristine: Chain) -> AsyncIterator[Chain]:
    yield pristine
    await pristine.restore()


def flipped(value: Any, rng: random.Random) -> Any:
    """``value`` with one character (bit, microsecond) changed."""
    if value is None:
        return "x"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value ^ (1 << rng.randrange(14, 40))  # far beyond every real seq
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, bytes):
        i = rng.randrange(len(value))
        return value[:i] + bytes([value[i] ^ 1]) + value[i + 1 :]
    i = rng.randrange(len(value))
    char = value[i]
    new = rng.choice(sorted(HEX - {char})) if char in HEX else chr(ord(char) ^ 1)
    return value[:i] + new + value[i + 1 :]


async def test_pristine_chain_verifies(chain: Chain) -> None:
    progress: list[tuple[int, int]] = []
    report = await chain.verify(
        progress=lambda done, total: progress.append((done, total)), batch=3000
    )
    assert report == VerifyReport(ok=True, checked=N)
    assert progress == [(3000, N), (6000, N), (9000, N), (N, N)]


@pytest.mark.parametrize("column", COLUMNS)
async def test_any_changed_column_is_found_at_its_seq(chain: Chain, column: str) -> None:
    rng = random.Random(column)
    seq = rng.randrange(1, N + 1)
    entry = await chain.entry(seq)
    await chain.set(seq, **{column: flipped(entry[column], rng)})
    report = await chain.verify()
    assert (report.ok, report.first_broken_seq) == (False, seq), (column, report)
    assert report.checked == seq - 1


async def test_deleted_entry_is_reported_as_missing(chain: Chain) -> None:
    async with chain.db.transaction() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == 4321))
    report = await chain.verify()
    assert (report.first_broken_seq, report.reason) == (4321, "entry 4321 is missing")


async def test_deleted_last_entry_disagrees_with_the_head(chain: Chain) -> None:
    async with chain.db.transaction() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == N))
    report = await chain.verify()
    assert report.first_broken_seq == N
    assert report.reason == f"entry {N} is missing: the head row says the log ends at {N}"


async def test_swapped_entries_are_found_at_the_first(chain: Chain) -> None:
    first, second = await chain.entry(2500), await chain.entry(7300)
    await chain.set(2500, **{k: v for k, v in second.items() if k != "seq"})
    await chain.set(7300, **{k: v for k, v in first.items() if k != "seq"})
    report = await chain.verify()
    assert (report.ok, report.first_broken_seq) == (False, 2500)


async def test_entry_inserted_mid_chain_is_found_at_its_seq(chain: Chain) -> None:
    before = await chain.entry(5999)
    forged = {**await chain.entry(6000), "seq": 6000, "prev_hash": before["entry_hash"]}
    forged["actor_name"] = "mallory"
    forged["entry_hash"] = random.Random(1).randbytes(32).hex()
    async with chain.db.transaction() as session:
        # Two steps, so no primary key collides while the tail moves up by one.
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq >= 6000).values(seq=-(AuditEntry.seq + 1))
        )
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq < 0).values(seq=-AuditEntry.seq)
        )
        await session.execute(insert(AuditEntry).values(**forged))
    last_seq, last_hash = await chain.head()
    await chain.set_head(last_seq + 1, last_hash)
    report = await chain.verify()
    assert (report.ok, report.first_broken_seq) == (False, 6000)


async def test_entry_forged_at_the_end_with_the_head_moved_is_found(chain: Chain) -> None:
    _, last_hash = await chain.head()
    forged = {**await chain.entry(N), "seq": N + 1, "prev_hash": last_hash}
    forged["entry_hash"] = "ab" * 32
    async with chain.db.transaction() as session:
        await session.execute(insert(AuditEntry).values(**forged))
    await chain.set_head(N + 1, forged["entry_hash"])
    report = await chain.verify()
    # The copied sealed fields are bound to entry N: at N + 1 they no longer open.
    assert (report.first_broken_seq, report.reason) == (
        N + 1,
        f"entry {N + 1} has sealed fields that do not open under its key",
    )


async def _truncate(chain: Chain, keep: int, *, checkpoints_too: bool = True) -> None:
    kept = await chain.entry(keep)
    async with chain.db.transaction() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq > keep))
        if checkpoints_too:
            await session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > keep))
    await chain.set_head(keep, kept["entry_hash"])


async def test_truncated_tail_is_found_only_against_an_exported_checkpoint(chain: Chain) -> None:
    async with chain.db.transaction() as session:
        exported = export_checkpoint(
            await chain.log.checkpoint(session), chain.log.checkpoint_public_key
        )
    assert exported["seq"] == N
    await _truncate(chain, 9500)
    assert (await chain.verify()).ok  # a consistent, shorter chain
    report = await chain.verify(external_checkpoint=exported)
    assert (report.ok, report.first_broken_seq) == (False, 9501)
    assert report.reason == f"entry 9501 is missing: the exported checkpoint vouches for {N}"


async def test_truncated_tail_regrown_by_new_entries_differs_from_the_exported_checkpoint(
    chain: Chain,
) -> None:
    async with chain.db.transaction() as session:
        exported = export_checkpoint(
            await chain.log.checkpoint(session), chain.log.checkpoint_public_key
        )
    await _truncate(chain, 9500)
    rng = random.Random(7)
    async with chain.db.transaction() as session:
        await chain.log.append_many(session, [random_event(rng, i) for i in range(600)])
    report = await chain.verify(external_checkpoint=exported)
    assert (report.first_broken_seq, report.reason) == (
        N,
        f"entry {N} differs from the exported checkpoint",
    )


async def test_truncation_that_leaves_stored_checkpoints_is_found_without_export(
    chain: Chain,
) -> None:
    await _truncate(chain, 9500, checkpoints_too=False)
    report = await chain.verify()
    assert (report.first_broken_seq, report.reason) == (
        9501,
        f"entry 9501 is missing: checkpoint {N} vouches for it",
    )


@pytest.mark.parametrize(
    ("head", "broken", "reason"),
    [
        ("hash", N, f"the head row's hash does not match entry {N}"),
        ("rewound", N, f"entry {N} lies beyond the head row's last entry"),
        ("ahead", N + 1, f"entry {N + 1} is missing: the head row says the log ends at {N + 1}"),
    ],
)
async def test_tampered_head_row_is_found(
    chain: Chain, head: str, broken: int, reason: str
) -> None:
    last_seq, last_hash = await chain.head()
    if head == "hash":
        await chain.set_head(last_seq, "0" * 64)
    elif head == "rewound":
        await chain.set_head(last_seq - 1, (await chain.entry(last_seq - 1))["entry_hash"])
    else:
        await chain.set_head(last_seq + 1, last_hash)
    report = await chain.verify()
    assert (report.ok, report.first_broken_seq, report.reason) == (False, broken, reason)


async def test_missing_head_row_is_found(chain: Chain) -> None:
    async with chain.db.transaction() as session:
        await session.execute(delete(AuditHead))
    report = await chain.verify()
    assert (report.first_broken_seq, report.reason) == (0, "the audit head row is missing")


async def test_stored_checkpoint_with_a_bad_signature_is_found(chain: Chain) -> None:
    async with chain.db.transaction() as session:
        await session.execute(
            update(AuditCheckpoint).where(AuditCheckpoint.seq == 3000).values(signature="00" * 64)
        )
    report = await chain.verify()
    assert (report.first_broken_seq, report.reason) == (
        3000,
        "checkpoint 3000 has an invalid signature",
    )


async def test_stored_checkpoint_for_another_hash_is_found(chain: Chain) -> None:
    async with chain.db.transaction() as session:
        ts = (
            await session.execute(select(AuditCheckpoint.ts).where(AuditCheckpoint.seq == 5000))
        ).scalar_one()
    other = sign_checkpoint(checkpoint_key(), seq=5000, entry_hash="cd" * 32, ts=ts)
    async with chain.db.transaction() as session:
        await session.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.seq == 5000)
            .values(entry_hash=other.entry_hash, signature=other.signature)
        )
    report = await chain.verify()
    assert (report.first_broken_seq, report.reason) == (
        5000,
        "checkpoint 5000 does not match entry 5000",
    )


async def test_erasure_keeps_the_chain_verifiable(chain: Chain) -> None:
    async with chain.db.transaction() as session:
        erased = await chain.log.erase_subject(session, actor_type="user", actor_id="user-0007")
    assert erased > 100
    entry = await chain.entry(N + 1)
    assert entry["action"] == "gdpr.erasure"
    assert (await chain.verify()) == VerifyReport(ok=True, checked=N + 1, erased=erased)


async def test_erased_flag_alone_is_found(chain: Chain) -> None:
    await chain.set(777, personal_erased=True)
    report = await chain.verify()
    assert (report.first_broken_seq, report.reason) == (
        777,
        "entry 777 is marked erased but holds personal data",
    )


async def test_erasure_faked_without_a_record_is_found(chain: Chain) -> None:
    blank = dict.fromkeys(("actor_id", "actor_name_sealed", "source_address_sealed"))
    await chain.set(777, personal_erased=True, actor_name_index=None, **blank)
    report = await chain.verify()
    assert report.first_broken_seq == 777
    assert (
        report.reason
        == "entry 777 is marked erased but no later gdpr.erasure entry names its actor"
    )


async def test_unreadable_sqlite_timestamp_is_reported_not_raised(chain: Chain) -> None:
    garble = text("UPDATE audit_log SET ts = 'not a time' WHERE seq = 4242")
    if not chain.db.url.startswith("sqlite"):
        with pytest.raises(DBAPIError):  # PostgreSQL refuses it: nothing to report
            async with chain.db.transaction() as session:
                await session.execute(garble)
        return
    async with chain.db.transaction() as session:
        await session.execute(garble)
    report = await chain.verify()
    assert (report.first_broken_seq, report.reason) == (
        4242,
        "entry 4242 has an unreadable timestamp",
    )
