"""Appending, checkpoints, erasure and queries on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from lensguard.audit import (
    AuditEvent,
    AuditLog,
    export_checkpoint,
    latest_checkpoint,
    parse_checkpoint,
    query,
    verify,
    verify_checkpoint_signature,
)
from lensguard.audit.checkpoint import sign_checkpoint
from lensguard.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEntry, AuditHead
from lensguard.store.db import Database
from tests.audit.support import (
    MASTER,
    chain_key,
    checkpoint_key,
    login,
    make_log,
    random_event,
)


async def test_empty_log_verifies(db: Database) -> None:
    report = await make_log().verify(db)
    assert (report.ok, report.checked, report.first_broken_seq) == (True, 0, None)


async def test_checkpoint_of_the_empty_log_vouches_for_genesis(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        empty = await log.checkpoint(session)
    assert (empty.seq, empty.entry_hash) == (0, GENESIS_HASH)
    document = export_checkpoint(empty, log.checkpoint_public_key)
    assert (await log.verify(db, external_checkpoint=document)).ok
    async with db.transaction() as session:
        await log.append(session, login("ada"))
    assert (await log.verify(db, external_checkpoint=document)).ok


async def test_append_returns_consecutive_seqs_and_links_entries(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        first = await log.append(session, login("ada"))
        second = await log.append(session, login("grace", outcome="failure"))
    async with db.transaction() as session:
        third = await log.append(
            session, AuditEvent(action="system.start", outcome="success", actor_type="system")
        )
        rows = (await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars().all()
        head = (await session.execute(select(AuditHead))).scalar_one()
    assert (first, second, third) == (1, 2, 3)
    assert rows[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in rows[1:]] == [r.entry_hash for r in rows[:-1]]
    assert (head.last_seq, head.last_hash) == (3, rows[-1].entry_hash)
    assert rows[2].actor_ref is None and rows[0].actor_ref == log.actor_ref("user", "id-ada")
    assert (await log.verify(db)).ok


async def test_entry_rolled_back_with_the_action_leaves_no_gap(db: Database) -> None:
    log = make_log()
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await log.append(session, login("ada"))
            raise RuntimeError("the audited action failed")
    async with db.transaction() as session:
        assert await log.append(session, login("ada")) == 1
    assert (await log.verify(db)).ok


async def test_checkpoint_every_n_entries_and_on_demand(db: Database) -> None:
    log = make_log(checkpoint_every=10)
    rng = random.Random(1)
    async with db.transaction() as session:
        await log.append_many(session, [random_event(rng, i) for i in range(25)])
    async with db.transaction() as session:
        stored = (await session.execute(select(AuditCheckpoint.seq))).scalars().all()
        made = await log.checkpoint(session)
        again = await log.checkpoint(session)
        latest = await latest_checkpoint(session)
    assert sorted(stored) == [10, 20]
    assert made.seq == 25 and again == made and latest == made
    document = export_checkpoint(made, log.checkpoint_public_key)
    assert verify_checkpoint_signature(document, log.checkpoint_public_key)
    assert parse_checkpoint(document) == made
    assert document["public_jwk"]["crv"] == "Ed25519" and document["key_id"] == log.key_id
    assert (await log.verify(db, external_checkpoint=document)).ok


def test_checkpoint_signature_is_bound_to_every_field_and_the_key() -> None:
    log = make_log()
    other = AuditLog.from_secret(MASTER + "-other")
    cp = sign_checkpoint(
        checkpoint_key(), seq=5, entry_hash="ab" * 32, ts=datetime(2026, 1, 1, tzinfo=UTC)
    )
    document = export_checkpoint(cp, log.checkpoint_public_key)
    assert verify_checkpoint_signature(document, log.checkpoint_public_key)
    assert not verify_checkpoint_signature(document, other.checkpoint_public_key)
    for name, value in (
        ("seq", 6),
        ("entry_hash", "ac" * 32),
        ("ts", "2026-01-01T00:00:00.000001+00:00"),
    ):
        assert not verify_checkpoint_signature({**document, name: value}, log.checkpoint_public_key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "other"}, "not a lensguard audit checkpoint"),
        ({"seq": -1}, "seq must be a non-negative integer"),
        ({"seq": True}, "seq must be a non-negative integer"),
        ({"entry_hash": "zz" * 32}, "entry_hash must be 64 lower-case hex digits"),
        ({"signature": "ab"}, "signature must be 128 lower-case hex digits"),
        ({"ts": "yesterday"}, "ts must be an ISO 8601 text"),
        ({"ts": "2026-01-01T00:00:00"}, "ts must carry a time zone"),
    ],
)
def test_malformed_checkpoint_documents_are_refused(
    change: dict[str, object], message: str
) -> None:
    log = make_log()
    cp = sign_checkpoint(checkpoint_key(), seq=1, entry_hash="ab" * 32, ts=datetime.now(UTC))
    document = {**export_checkpoint(cp, log.checkpoint_public_key), **change}
    with pytest.raises(ValueError, match=message):
        parse_checkpoint(document)


async def test_external_checkpoint_signed_by_another_key_is_a_usage_error(db: Database) -> None:
    log = make_log()
    other = AuditLog.from_secret(MASTER + "-other")
    async with db.transaction() as session:
        await log.append(session, login("ada"))
        forged = export_checkpoint(await other.checkpoint(session), other.checkpoint_public_key)
    with pytest.raises(ValueError, match="signature does not verify"):
        await log.verify(db, external_checkpoint=forged)


async def test_wrong_chain_key_fails_at_the_first_entry(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, login("ada"))
    report = await verify(
        db, chain_key=chain_key(MASTER + "-other"), checkpoint_public_key=log.checkpoint_public_key
    )
    assert (report.ok, report.first_broken_seq) == (False, 1)


async def test_erasure_blanks_personal_fields_and_the_chain_still_verifies(db: Database) -> None:
    log = make_log(checkpoint_every=3)
    async with db.transaction() as session:
        await log.append(session, login("ada", address="203.0.113.7"))
        await log.append(session, login("grace"))
        await log.append(session, login("ada", outcome="failure"))
    async with db.transaction() as session:
        erased = await log.erase_subject(session, actor_type="user", actor_id="id-ada")
    async with db.transaction() as session:
        rows = await query(session, limit=100, opener=log.opener())
    assert erased == 2
    ada = [r for r in rows if r.actor_ref == log.actor_ref("user", "id-ada")]
    assert [r.seq for r in ada] == [1, 3]
    assert all(r.personal_erased and r.actor_name is None for r in ada)
    assert all(r.actor_id is None and r.source_address is None for r in ada)
    record = rows[-1]
    assert record.action == "gdpr.erasure" and record.actor_type == "system"
    assert record.details == {"actor_ref": ada[0].actor_ref, "entries": 2, "details": 0}
    assert rows[1].actor_name == "grace" and not rows[1].personal_erased
    assert (await log.verify(db)).ok
    # Erasing again finds nothing left to erase and still verifies.
    async with db.transaction() as session:
        assert await log.erase_subject(session, actor_type="user", actor_id="id-ada") == 0
    assert (await log.verify(db)).ok


async def test_erased_flag_flipped_without_erasure_record_is_detected(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        for name in ("ada", "grace", "alan"):
            await log.append(session, login(name))
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE audit_log SET personal_erased = true, actor_id = NULL, actor_name = NULL, "
                "source_address = NULL, actor_name_sealed = NULL, source_address_sealed = NULL, "
                "actor_name_index = NULL WHERE seq = 2"
            )
        )
    report = await log.verify(db)
    assert (report.ok, report.first_broken_seq) == (False, 2)
    assert (
        report.reason == "entry 2 is marked erased but no later gdpr.erasure entry names its actor"
    )


async def test_query_filters_and_keyset_pagination(db: Database) -> None:
    log = make_log()
    base = datetime(2026, 3, 1, tzinfo=UTC)
    ticks = iter(range(100))
    timed = AuditLog.from_secret(MASTER, clock=lambda: base + timedelta(minutes=next(ticks)))
    async with db.transaction() as session:
        for i in range(6):
            await timed.append(session, login("ada" if i % 2 else "grace"))
        await timed.append(
            session,
            AuditEvent(
                action="user.role_changed",
                outcome="success",
                actor_type="user",
                actor_id="id-ada",
                actor_name="ada",
                resource_type="user",
                resource_id="id-grace",
            ),
        )
        await timed.append(
            session, AuditEvent(action="auth_x", outcome="denied", actor_type="anonymous")
        )
    async with db.transaction() as session:
        by_name = await query(session, actor="ada", opener=timed.opener())
        by_id = await query(session, actor="id-grace")
        prefix = await query(session, action="auth.*")
        exact = await query(session, action="auth.login")
        resource = await query(session, resource_type="user", resource_id="id-grace")
        window = await query(
            session, since=base + timedelta(minutes=2), until=base + timedelta(minutes=4)
        )
        page1 = await query(session, limit=3)
        page2 = await query(session, after_seq=page1[-1].seq, limit=3)
        page3 = await query(session, after_seq=page2[-1].seq, limit=3)
    assert [r.seq for r in by_name] == [2, 4, 6, 7]
    assert [r.seq for r in by_id] == [1, 3, 5]
    assert [r.seq for r in prefix] == [1, 2, 3, 4, 5, 6]  # "auth_x" is not under "auth."
    assert [r.seq for r in exact] == [1, 2, 3, 4, 5, 6]
    assert [r.seq for r in resource] == [7]
    assert [r.seq for r in window] == [3, 4]
    assert [[r.seq for r in p] for p in (page1, page2, page3)] == [[1, 2, 3], [4, 5, 6], [7, 8]]
    assert page1[0].ts == base and page1[0].ts.tzinfo is not None
    assert (await log.verify(db)).ok


async def test_like_wildcards_and_nul_in_filters_match_nothing(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(
            session, AuditEvent(action="auth.login", outcome="success", actor_type="system")
        )
        assert await query(session, action="a_th.*") == []
        assert await query(session, action="%*") == []
        assert await query(session, actor="ada\x00") == []
        assert await query(session, resource_id="\x00") == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"outcome": "ok"}, "outcome must be one of"),
        ({"actor_type": "robot"}, "actor_type must be one of"),
        ({"action": "Auth.Login"}, "action must be dotted lower-case words"),
        ({"action": "auth..login"}, "action must be dotted lower-case words"),
        ({"actor_name": "x" * 256}, "actor_name is longer than 255 characters"),
        ({"actor_name": "nul\x00byte"}, "actor_name contains a NUL character"),
        ({"resource_id": "\ud800"}, "resource_id is not valid Unicode text"),
        ({"details": ["not", "a", "mapping"]}, "details must be a mapping"),
    ],
)
def test_invalid_events_are_refused(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"action": "auth.login", "outcome": "success", "actor_type": "user"}
    with pytest.raises(ValueError, match=message):
        AuditEvent(**{**base, **fields})  # type: ignore[arg-type]


async def test_unserialisable_details_are_refused_before_anything_is_written(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        with pytest.raises(ValueError, match="details must be JSON-serialisable"):
            await log.append(
                session,
                AuditEvent(
                    action="a.b", outcome="success", actor_type="system", details={"x": object()}
                ),
            )
        with pytest.raises(ValueError, match="details exceed"):
            await log.append(
                session,
                AuditEvent(
                    action="a.b",
                    outcome="success",
                    actor_type="system",
                    details={"x": "y" * 20_000},
                ),
            )
        count = (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    assert count == 0


def test_weak_or_equal_keys_are_refused() -> None:
    key = checkpoint_key()
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AuditLog(chain_key=b"short", pseudonym_key=b"p" * 32, checkpoint_key=key)
    with pytest.raises(ValueError, match="must differ"):
        AuditLog(chain_key=b"k" * 32, pseudonym_key=b"k" * 32, checkpoint_key=key)
    with pytest.raises(ValueError, match="checkpoint_every"):
        AuditLog(
            chain_key=b"k" * 32, pseudonym_key=b"p" * 32, checkpoint_key=key, checkpoint_every=0
        )
