"""Pruning the start of the chain behind a signed anchor, and verifying from it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, delete, func, insert, select, update

from lensguard.audit.anchors import AuditAnchor, anchor_statement, newest_anchor
from lensguard.audit.checkpoint import export_checkpoint
from lensguard.audit.log import AuditLog
from lensguard.audit.models import AuditCheckpoint, AuditEntry
from lensguard.audit.prune import PruneResult, prune
from lensguard.clock import ManualClock
from lensguard.store.db import Database
from tests.audit.support import login, make_log

DAY = timedelta(days=1)
OLD, NEW = 30, 10


async def fill(db: Database, log: AuditLog, clock: ManualClock) -> None:
    """``OLD`` entries, then 200 days later ``NEW`` more (checkpoints every 10)."""
    async with db.transaction() as session:
        for i in range(OLD):
            await log.append(session, login(f"user{i % 3}"))
    await clock.advance(200 * DAY.total_seconds())
    async with db.transaction() as session:
        for i in range(NEW):
            await log.append(session, login(f"late{i % 2}"))


async def run(db: Database, log: AuditLog, clock: ManualClock, **kwargs: object) -> PruneResult:
    now = clock.now()
    return await prune(db, log, before=now - 180 * DAY, now=now, batch=7, **kwargs)  # type: ignore[arg-type]


async def seqs(db: Database) -> list[int]:
    async with db.sessions() as session:
        return list(await session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))


@pytest.fixture
def log(manual_clock: ManualClock) -> AuditLog:
    return make_log(checkpoint_every=10, clock=manual_clock.now)


async def test_old_entries_go_behind_an_anchor_that_verify_starts_from(
    db: Database, log: AuditLog, manual_clock: ManualClock
) -> None:
    await fill(db, log, manual_clock)
    dry = await run(db, log, manual_clock, dry_run=True)
    assert (dry.removed, dry.anchor_seq, dry.anchor_ts, dry.refused) == (OLD, OLD, None, None)
    assert len(await seqs(db)) == OLD + NEW and await newest_anchor(db) is None

    done = await run(db, log, manual_clock)
    assert (done.removed, done.anchor_seq, done.anchor_ts) == (OLD, OLD, manual_clock.now())
    assert await seqs(db) == list(range(OLD + 1, OLD + NEW + 1))
    report = await log.verify(db)
    assert (report.ok, report.checked, report.anchor_seq) == (True, NEW, OLD)
    assert report.anchor_ts == manual_clock.now()

    again = await run(db, log, manual_clock)
    assert (again.removed, again.anchor_seq) == (0, OLD)
    # The log goes on after the anchor: appends and verification as before.
    async with db.transaction() as session:
        assert await log.append(session, login("after")) == OLD + NEW + 1
    assert (await log.verify(db)).checked == NEW + 1


async def test_never_past_the_newest_checkpoint_nor_the_newest_entry(
    db: Database, manual_clock: ManualClock
) -> None:
    log = make_log(checkpoint_every=1000, clock=manual_clock.now)
    async with db.transaction() as session:
        for i in range(OLD):
            await log.append(session, login(f"user{i}"))
    await manual_clock.advance(200 * DAY.total_seconds())
    nothing = await run(db, log, manual_clock)
    assert (nothing.removed, nothing.anchor_seq) == (0, None)  # no checkpoint vouches yet

    async with db.transaction() as session:
        await log.checkpoint(session)  # at entry 30, the head
    done = await run(db, log, manual_clock)
    # Everything is old, but the chain keeps its newest entry to end on.
    assert (done.removed, done.anchor_seq) == (OLD - 1, OLD - 1)
    assert await seqs(db) == [OLD]
    assert (await log.verify(db)).ok


async def test_keep_from_holds_that_entry_and_later(
    db: Database, log: AuditLog, manual_clock: ManualClock
) -> None:
    await fill(db, log, manual_clock)
    done = await run(db, log, manual_clock, keep_from=12)
    assert (done.removed, done.anchor_seq) == (11, 11)
    assert (await seqs(db))[0] == 12


async def test_a_run_anchors_at_most_limit_entries_and_the_next_goes_on(
    db: Database, log: AuditLog, manual_clock: ManualClock
) -> None:
    await fill(db, log, manual_clock)
    first = await run(db, log, manual_clock, limit=12)
    second = await run(db, log, manual_clock, limit=12)
    third = await run(db, log, manual_clock, limit=12)
    assert [r.anchor_seq for r in (first, second, third)] == [12, 24, OLD]
    assert [r.removed for r in (first, second, third)] == [12, 12, OLD - 24]
    assert (await log.verify(db)).anchor_seq == OLD


async def test_a_forged_or_altered_anchor_fails_verification(
    db: Database, log: AuditLog, manual_clock: ManualClock
) -> None:
    await fill(db, log, manual_clock)
    await run(db, log, manual_clock)
    async with db.transaction() as session:
        await session.execute(update(AuditAnchor).values(ts=manual_clock.now() - DAY))
    report = await log.verify(db)
    assert (report.ok, report.first_broken_seq, report.reason) == (
        False,
        OLD,
        f"the retention anchor at entry {OLD} has an invalid signature",
    )

    # A genuine checkpoint passed off as an anchor: signed, but not as an anchor.
    async with db.transaction() as session:
        await session.execute(delete(AuditAnchor))
        checkpoint = (
            await session.execute(select(AuditCheckpoint).where(AuditCheckpoint.seq == OLD))
        ).scalar_one()
        await session.execute(
            insert(AuditAnchor).values(
                seq=checkpoint.seq,
                entry_hash=checkpoint.entry_hash,
                ts=checkpoint.ts,
                signature=checkpoint.signature,
                key_id=checkpoint.key_id,
            )
        )
    report = await log.verify(db)
    assert (report.ok, report.first_broken_seq) == (False, OLD), report

    # No anchor at all: the pruned entries are missing.
    async with db.transaction() as session:
        await session.execute(delete(AuditAnchor))
    report = await log.verify(db)
    assert (report.ok, report.first_broken_seq, report.reason, report.anchor_seq) == (
        False,
        1,
        "entry 1 is missing",
        None,
    )


@pytest.mark.parametrize("seq", [OLD + 1, OLD + 5])
async def test_an_entry_deleted_after_the_anchor_fails_verification(
    db: Database, log: AuditLog, manual_clock: ManualClock, seq: int
) -> None:
    await fill(db, log, manual_clock)
    await run(db, log, manual_clock)
    async with db.transaction() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == seq))
    report = await log.verify(db)
    assert (report.ok, report.first_broken_seq, report.reason, report.anchor_seq) == (
        False,
        seq,
        f"entry {seq} is missing",
        OLD,
    )


async def test_the_first_kept_entry_must_link_to_the_anchor(
    db: Database, log: AuditLog, manual_clock: ManualClock
) -> None:
    await fill(db, log, manual_clock)
    await run(db, log, manual_clock)
    async with db.transaction() as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == OLD + 1).values(prev_hash="ab" * 32)
        )
    report = await log.verify(db)
    assert (report.first_broken_seq, report.reason) == (
        OLD + 1,
        f"entry {OLD + 1} does not link to the retention anchor at entry {OLD}",
    )


async def test_a_run_cut_short_after_the_anchor_verifies_and_the_next_run_finishes(
    db: Database, log: AuditLog, manual_clock: ManualClock
) -> None:
    await fill(db, log, manual_clock)

    class Killed(Exception):
        pass

    async def die(done: int) -> None:
        raise Killed(done)

    with pytest.raises(Killed):
        await run(db, log, manual_clock, on_batch=die)
    # The anchor is stored and one batch is gone; older entries remain behind it.
    assert (await seqs(db))[0] == 8
    report = await log.verify(db)
    assert (report.ok, report.checked, report.anchor_seq) == (True, NEW, OLD)

    finished = await run(db, log, manual_clock)
    assert (finished.removed, finished.anchor_seq) == (OLD - 7, OLD)
    assert (await seqs(db))[0] == OLD + 1
    assert (await log.verify(db)).ok


async def test_entries_that_do_not_verify_are_not_pruned(
    db: Database, log: AuditLog, manual_clock: ManualClock
) -> None:
    await fill(db, log, manual_clock)
    async with db.transaction() as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == 5).values(outcome="denied")
        )
    dry = await run(db, log, manual_clock, dry_run=True)
    refusal = "the entries to prune do not verify: entry 5 was altered (its hash does not match)"
    assert (dry.removed, dry.anchor_seq, dry.refused) == (0, None, refusal)
    done = await run(db, log, manual_clock)
    assert (done.removed, done.anchor_seq, done.refused) == (0, None, refusal)
    assert len(await seqs(db)) == OLD + NEW and await newest_anchor(db) is None
    assert (await log.verify(db)).first_broken_seq == 5  # the evidence stays


async def test_erasures_still_verify_whichever_side_of_the_anchor_they_fall(
    db: Database, log: AuditLog, manual_clock: ManualClock
) -> None:
    async with db.transaction() as session:
        for i in range(OLD):
            await log.append(session, login(f"user{i % 3}"))
        # user0's entries erased, and the erasure entry pruned with them.
        await log.erase_subject(session, actor_type="user", actor_id="id-user0")
    await manual_clock.advance(200 * DAY.total_seconds())
    async with db.transaction() as session:
        await log.append(session, login("user1"))
        # user1's old entries erased now: they go, the gdpr.erasure entry stays.
        await log.erase_subject(session, actor_type="user", actor_id="id-user1")
        for i in range(12):
            await log.append(session, login(f"late{i}"))
    done = await run(db, log, manual_clock)
    assert done.anchor_seq == OLD + 1 and done.refused is None
    report = await log.verify(db)
    assert report.ok, report
    async with db.sessions() as session:
        erased = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.personal_erased)
        )
    assert erased == 1  # the newer user1 entry, covered by the kept erasure entry


async def test_an_exported_checkpoint_older_than_the_anchor_is_refused(
    db: Database, log: AuditLog, manual_clock: ManualClock
) -> None:
    await fill(db, log, manual_clock)
    async with db.sessions() as session:
        rows = (
            await session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
        ).scalars()
        docs = {
            cp.seq: {
                "type": "lensguard-audit-checkpoint/1",
                "seq": cp.seq,
                "entry_hash": cp.entry_hash,
                "ts": cp.ts.isoformat(),
                "signature": cp.signature,
            }
            for cp in rows
        }
    await run(db, log, manual_clock)
    with pytest.raises(ValueError, match="which retention pruned"):
        await log.verify(db, external_checkpoint=docs[20])
    at_anchor = await log.verify(db, external_checkpoint=docs[OLD])
    assert at_anchor.ok and at_anchor.anchor_seq == OLD
    async with db.transaction() as session:
        head = await log.checkpoint(session)
    newer = export_checkpoint(head, log.checkpoint_public_key)
    assert (await log.verify(db, external_checkpoint=newer)).ok
    # A forged anchor is reported as such, not as an old checkpoint.
    async with db.transaction() as session:
        await session.execute(update(AuditAnchor).values(seq=OLD + 2))
    forged = await log.verify(db, external_checkpoint=docs[20])
    assert (forged.ok, forged.first_broken_seq) == (False, OLD + 2)


async def test_a_run_that_anchors_while_verify_walks_makes_it_walk_again(
    sqlite_url: str, manual_clock: ManualClock
) -> None:
    db = Database(sqlite_url)
    log = make_log(checkpoint_every=10, clock=manual_clock.now)
    try:
        await fill(db, log, manual_clock)
        async with db.sessions() as session:
            entry_hash = await session.scalar(
                select(AuditEntry.entry_hash).where(AuditEntry.seq == OLD)
            )
        assert entry_hash is not None
        ts = manual_clock.now()
        row = {
            "seq": OLD,
            "entry_hash": entry_hash,
            "ts": ts,
            "signature": log.sign(anchor_statement(seq=OLD, entry_hash=entry_hash, ts=ts)),
            "key_id": log.key_id,
        }
        other = create_engine(sqlite_url.replace("+aiosqlite", ""))
        walked: list[int] = []

        def prune_meanwhile(checked: int, total: int) -> None:
            # Another node's run, between two batches of this walk: anchor, then delete.
            walked.append(checked)
            if len(walked) == 1:
                with other.begin() as conn:
                    conn.execute(insert(AuditAnchor).values(**row))
                    conn.execute(delete(AuditEntry).where(AuditEntry.seq <= OLD))

        report = await log.verify(db, progress=prune_meanwhile, batch=5)
        other.dispose()
        assert (report.ok, report.checked, report.anchor_seq) == (True, NEW, OLD)
        assert walked[0] == 5 and walked[-1] == NEW  # the first walk stopped, the second ran
    finally:
        await db.dispose()
