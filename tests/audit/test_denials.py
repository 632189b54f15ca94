"""``DenialRecorder`` against a real SQLite database and the real audit log.

The recorder's clock is injected and turned by hand: no test waits for a window.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from lensguard.access.principal import Principal, PrincipalKind, Resource
from lensguard.audit import AuditLog, AuditRow, verify
from lensguard.audit.denials import ACCESS_DENIED, AUTH_REJECTED, DenialRecorder, denial_event
from lensguard.audit.entry import AuditEvent
from lensguard.audit.models import AuditEntry
from lensguard.audit.query import to_row
from lensguard.store.db import Database
from tests.audit.support import chain_key, checkpoint_key, make_log

WINDOW = 60.0
START = 1_700_000_000.0


class Clock:
    """A clock the test sets: ``now`` is a plain float."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    database = Database(sqlite_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def log() -> AuditLog:
    return make_log()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def recorder_for(
    log: AuditLog, db: Database, clock: Clock, *, max_keys: int = 4096
) -> DenialRecorder:
    return DenialRecorder(log, db, window=WINDOW, max_keys=max_keys, clock=clock)


def viewer(name: str = "vic") -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        id=f"id-{name}",
        name=name,
        role="viewer",
        permissions=frozenset({"camera_view"}),
    )


def refused(
    who: Principal | None = None,
    action: str = "user_manage",
    device: str | None = None,
    address: str = "127.0.0.1",
) -> AuditEvent:
    resource = Resource(kind="device", id=device, site="site-a") if device else None
    return denial_event(
        who if who is not None else viewer(),
        action,
        resource,
        reason="your role does not allow it",
        address=address,
    )


async def entries(db: Database) -> list[AuditRow]:
    async with db.sessions() as session:
        rows = list((await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars())
        opener = make_log().opener()
        assert opener is not None
        await opener.load_entries(session, rows)
        return [to_row(row, opener) for row in rows]


async def assert_chain_verifies(db: Database) -> None:
    report = await verify(
        db, chain_key=chain_key(), checkpoint_public_key=checkpoint_key().public_key()
    )
    assert report.ok, report


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


async def test_first_refusal_is_written_at_once_with_count_one(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    await recorder.record(refused(device="cam-1"))
    [entry] = await entries(sqlite_db)
    assert (entry.action, entry.outcome) == (ACCESS_DENIED, "denied")
    assert (entry.actor_type, entry.actor_id, entry.actor_name) == ("user", "id-vic", "vic")
    assert (entry.resource_type, entry.resource_id) == ("device", "cam-1")
    assert entry.source_address == "127.0.0.1"
    assert entry.details == {
        "action": "user_manage",
        "reason": "your role does not allow it",
        "site": "site-a",
        "count": 1,
    }
    assert recorder.keys == 1
    await assert_chain_verifies(sqlite_db)


async def test_repeats_in_the_window_become_one_counted_entry(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    await recorder.record(refused())
    for i in range(100):
        clock.now = START + 1 + i * 0.5
        await recorder.record(refused())
        await recorder.flush_due()
    assert len(await entries(sqlite_db)) == 1
    # Just inside the window nothing closes; at its end the repeats are written.
    clock.now = START + WINDOW - 0.001
    await recorder.flush_due()
    assert len(await entries(sqlite_db)) == 1
    clock.now = START + WINDOW
    await recorder.flush_due()
    first, summary = await entries(sqlite_db)
    assert first.details["count"] == 1
    assert summary.action == ACCESS_DENIED and summary.actor_id == "id-vic"
    assert summary.details == {
        "action": "user_manage",
        "reason": "your role does not allow it",
        "count": 100,
        "first_at": iso(START + 1),
        "last_at": iso(START + 1 + 99 * 0.5),
        "window_seconds": WINDOW,
    }
    assert recorder.keys == 0
    # Nothing more to say: later flushes add nothing, a new refusal opens a new window.
    await recorder.flush_due()
    await recorder.flush_all()
    assert len(await entries(sqlite_db)) == 2
    await recorder.record(refused())
    last = (await entries(sqlite_db))[-1]
    assert last.details["count"] == 1 and "first_at" not in last.details
    await assert_chain_verifies(sqlite_db)


async def test_a_window_without_repeats_closes_silently(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    await recorder.record(refused())
    clock.now += WINDOW * 2
    await recorder.flush_due()
    assert len(await entries(sqlite_db)) == 1
    assert recorder.keys == 0


async def test_a_repeat_after_the_window_closes_it_and_opens_the_next(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    await recorder.record(refused())
    clock.now += 5
    await recorder.record(refused())
    clock.now += WINDOW
    await recorder.record(refused())
    counts = [e.details["count"] for e in await entries(sqlite_db)]
    assert counts == [1, 1, 1]
    _, summary, reopened = await entries(sqlite_db)
    assert "first_at" in summary.details and "first_at" not in reopened.details


async def test_different_principal_action_or_resource_are_separate_keys(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    variants = [
        refused(),
        refused(viewer("eve")),
        refused(action="audit_read"),
        refused(device="cam-1"),
        refused(device="cam-2"),
    ]
    for event in variants:
        await recorder.record(event)
    assert recorder.keys == len(variants)
    for event in variants * 3:
        await recorder.record(event)
    assert len(await entries(sqlite_db)) == len(variants)
    clock.now += WINDOW
    await recorder.flush_due()
    rows = await entries(sqlite_db)
    summaries = rows[len(variants) :]
    assert [r.details["count"] for r in summaries] == [3] * len(variants)
    seen = {(r.actor_id, r.details["action"], r.resource_id) for r in summaries}
    assert seen == {
        ("id-vic", "user_manage", None),
        ("id-eve", "user_manage", None),
        ("id-vic", "audit_read", None),
        ("id-vic", "user_manage", "cam-1"),
        ("id-vic", "user_manage", "cam-2"),
    }


async def test_rejected_credentials_are_keyed_by_address(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)

    def rejected(address: str) -> AuditEvent:
        return denial_event(None, "authenticate", reason="invalid token", address=address)

    for address in ("127.0.0.1", "127.0.0.2", "127.0.0.1"):
        await recorder.record(rejected(address))
    rows = await entries(sqlite_db)
    assert [(r.action, r.actor_type, r.actor_id, r.source_address) for r in rows] == [
        (AUTH_REJECTED, "anonymous", None, "127.0.0.1"),
        (AUTH_REJECTED, "anonymous", None, "127.0.0.2"),
    ]
    assert recorder.keys == 2


async def test_full_table_flushes_the_oldest_early_and_loses_nothing(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock, max_keys=3)
    for name in ("a", "b", "c"):
        await recorder.record(refused(viewer(name)))
        clock.now += 1
        await recorder.record(refused(viewer(name)))
        await recorder.record(refused(viewer(name)))
    assert len(await entries(sqlite_db)) == 3
    # A fourth key while three windows are open: "a", the oldest, is written early.
    await recorder.record(refused(viewer("d")))
    assert recorder.keys == 3
    rows = await entries(sqlite_db)
    assert [(r.actor_name, r.details["count"]) for r in rows[3:]] == [("a", 2), ("d", 1)]
    assert "first_at" in rows[3].details
    # "a" again is a new key now: it pushes out "b", and its first refusal is written.
    await recorder.record(refused(viewer("a")))
    rows = await entries(sqlite_db)
    assert [(r.actor_name, r.details["count"]) for r in rows[5:]] == [("b", 2), ("a", 1)]
    await recorder.flush_all()
    rows = await entries(sqlite_db)
    assert [(r.actor_name, r.details["count"]) for r in rows[7:]] == [("c", 2)]
    # Every refusal is accounted for: 3 keys x 3 refusals, then d and a once each.
    assert sum(r.details["count"] for r in rows) == 3 * 3 + 2
    await assert_chain_verifies(sqlite_db)


async def test_stop_writes_every_open_window(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    recorder.start()
    await recorder.record(refused())
    await recorder.record(refused(device="cam-1"))
    for _ in range(4):
        recorder.note(refused())
    recorder.note(refused(device="cam-1"))
    await recorder.stop()
    rows = await entries(sqlite_db)
    assert [(r.resource_id, r.details["count"]) for r in rows] == [
        (None, 1),
        ("cam-1", 1),
        (None, 4),
        ("cam-1", 1),
    ]
    assert recorder.keys == 0
    await assert_chain_verifies(sqlite_db)


async def test_noted_refusals_wait_until_written(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    recorder.note(refused())
    assert await entries(sqlite_db) == []
    await recorder.write_pending()
    assert len(await entries(sqlite_db)) == 1


async def set_audit_head(db: Database, *, present: bool) -> None:
    """Take the chain's head table away (every append fails) or put it back."""
    old, new = ("audit_head_away", "audit_head") if present else ("audit_head", "audit_head_away")
    async with db.transaction() as session:
        await session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_failed_write_keeps_the_refusals_for_the_next_try(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    await recorder.record(refused())
    await set_audit_head(sqlite_db, present=False)
    await recorder.record(refused(viewer("eve")))
    for _ in range(5):
        await recorder.record(refused())
    clock.now += WINDOW
    await recorder.flush_due()  # the database refuses: nothing is written, nothing lost
    await set_audit_head(sqlite_db, present=True)
    assert len(await entries(sqlite_db)) == 1
    await recorder.write_pending()
    rows = await entries(sqlite_db)
    assert [(r.actor_name, r.details["count"]) for r in rows] == [
        ("vic", 1),
        ("eve", 1),
        ("vic", 5),
    ]
    await recorder.write_pending()
    assert len(await entries(sqlite_db)) == 3
    await assert_chain_verifies(sqlite_db)


async def test_while_the_database_refuses_the_backlog_stays_bounded(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock, max_keys=16)
    await set_audit_head(sqlite_db, present=False)
    flood = 3 * recorder.max_pending
    for i in range(flood):
        await recorder.record(refused(viewer(f"u{i:03d}")))
    await set_audit_head(sqlite_db, present=True)
    await recorder.write_pending()
    rows = await entries(sqlite_db)
    # The newest refusals are kept, and never more than max_pending of them.
    assert len(rows) == recorder.max_pending
    assert rows[-1].actor_name == f"u{flood - 1:03d}"
    await assert_chain_verifies(sqlite_db)


async def test_a_clock_going_backwards_closes_the_window(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    await recorder.record(refused())
    clock.now += 10
    await recorder.record(refused())
    await recorder.record(refused())
    clock.now = START - 1
    await recorder.flush_due()
    rows = await entries(sqlite_db)
    assert [r.details["count"] for r in rows] == [1, 2]
    assert recorder.keys == 0
    # A refusal at the earlier time starts a fresh window rather than stretching the old one.
    await recorder.record(refused())
    rows = await entries(sqlite_db)
    assert [r.details["count"] for r in rows] == [1, 2, 1]
    await assert_chain_verifies(sqlite_db)


async def test_refusal_fields_are_cut_to_fit_rather_than_refused(
    sqlite_db: Database, log: AuditLog, clock: Clock
) -> None:
    recorder = recorder_for(log, sqlite_db, clock)
    odd = Principal(
        kind=PrincipalKind.USER,
        id="x" * 1000,
        name="n\x00" * 500,
        role="viewer",
        permissions=frozenset(),
    )
    event = denial_event(
        odd,
        "camera_view",
        Resource(kind="device", id="d" * 5000),
        reason="r" * 5000,
        address="127.0.0.1",
    )
    await recorder.record(event)
    [entry] = await entries(sqlite_db)
    assert entry.actor_name is not None and "\x00" not in entry.actor_name
    assert len(entry.details["reason"]) == 200
    await assert_chain_verifies(sqlite_db)


async def test_window_and_table_size_must_be_positive(sqlite_db: Database, log: AuditLog) -> None:
    with pytest.raises(ValueError, match="window"):
        DenialRecorder(log, sqlite_db, window=0)
    with pytest.raises(ValueError, match="max_keys"):
        DenialRecorder(log, sqlite_db, max_keys=0)
