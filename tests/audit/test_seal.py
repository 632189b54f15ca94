"""Sealed personal fields and crypto-shredding on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from lensguard.audit import AuditEvent, AuditLog, query
from lensguard.audit.models import AuditEntry, AuditSubjectKey
from lensguard.audit.seal import seal_aad
from lensguard.audit.subject_keys import wrap_aad
from lensguard.errors import ServiceUnavailable
from lensguard.protect.subkeys import Purpose, derive
from lensguard.protect.wrap import UnwrapError, unwrap
from lensguard.store.db import Database
from tests.audit.support import MASTER, login, make_log

WRAP_KEY = derive(MASTER, Purpose.WRAP)
WHEN = datetime(2026, 12, 6, tzinfo=UTC)


async def stored(db: Database) -> list[AuditEntry]:
    async with db.sessions() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


async def subject_key(db: Database, subject: str | None) -> bytes | None:
    async with db.sessions() as session:
        row = await session.get(AuditSubjectKey, subject)
        return None if row is None else row.wrapped


def legacy_log() -> AuditLog:
    """The log as it was before sealing: the same keys, no wrap key."""
    return AuditLog(
        chain_key=derive(MASTER, Purpose.AUDIT_CHAIN),
        pseudonym_key=derive(MASTER, Purpose.AUDIT_PSEUDONYM),
        checkpoint_key=Ed25519PrivateKey.from_private_bytes(
            derive(MASTER, Purpose.AUDIT_CHECKPOINT)
        ),
    )


async def test_personal_fields_are_stored_sealed_and_read_back(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, login("ada", address="203.0.113.7"))
    (entry,) = await stored(db)
    assert (entry.actor_name, entry.source_address) == (None, None)
    assert entry.actor_id == "id-ada"  # the pseudonymous id stays, for filtering
    assert entry.actor_name_sealed is not None and entry.source_address_sealed is not None
    for blob, plain in ((entry.actor_name_sealed, b"ada"), (entry.source_address_sealed, b"203")):
        assert plain not in blob
    wrapped = await subject_key(db, entry.actor_ref)
    assert wrapped is not None and entry.actor_ref is not None
    key = unwrap(WRAP_KEY, wrapped, aad=wrap_aad(entry.actor_ref))
    assert len(key) == 32 and key not in wrapped
    aad = seal_aad("source_address", entry.seq, entry.actor_ref)
    assert unwrap(key, entry.source_address_sealed, aad=aad) == b"203.0.113.7"
    async with db.sessions() as session:
        opened = await query(session, opener=log.opener())
        unopened = await query(session)
        by_name = await query(session, actor="ada", opener=log.opener())
    assert (opened[0].actor_name, opened[0].source_address) == ("ada", "203.0.113.7")
    assert (unopened[0].actor_name, unopened[0].source_address) == (None, None)
    assert [r.seq for r in by_name] == [1]
    report = await log.verify(db)
    assert (report.ok, report.erased) == (True, 0)


async def test_erasure_shreds_the_key_and_verify_reports_the_entries_erased(
    db: Database,
) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, login("ada", address="203.0.113.7"))
        await log.append(session, login("grace"))
        await log.append(session, login("ada", outcome="failure"))
    ada, grace = log.actor_ref("user", "id-ada"), log.actor_ref("user", "id-grace")
    before = {e.seq: e.actor_name_sealed for e in await stored(db)}
    async with db.transaction() as session:
        assert await log.erase_subject(session, actor_type="user", actor_id="id-ada") == 2
    assert await subject_key(db, ada) is None
    assert await subject_key(db, grace) is not None
    entries = await stored(db)
    for entry in entries[:3]:
        if entry.actor_ref != ada:
            continue
        # The ciphertext is still there, and nothing left in the database opens it.
        assert entry.actor_name_sealed == before[entry.seq]
        assert (entry.actor_id, entry.actor_name_index, entry.personal_erased) == (None, None, True)
        opener = log.opener()
        assert opener is not None
        async with db.sessions() as session:
            await opener.load_entries(session, [entry])
        assert opener.personal(entry) == (None, None)
    async with db.sessions() as session:
        rows = await query(session, opener=log.opener())
        found = await query(session, actor="ada", opener=log.opener())
    assert [(r.seq, r.actor_name, r.personal_erased) for r in rows[:3]] == [
        (1, None, True),
        (2, "grace", False),
        (3, None, True),
    ]
    assert found == []
    report = await log.verify(db)
    assert (report.ok, report.checked, report.erased) == (True, 4, 2)


async def test_a_restored_key_on_an_erased_entry_is_reported(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, login("ada"))
    ref = log.actor_ref("user", "id-ada")
    wrapped = await subject_key(db, ref)
    async with db.transaction() as session:
        await log.erase_subject(session, actor_type="user", actor_id="id-ada")
        session.add(AuditSubjectKey(subject=ref, wrapped=wrapped, created_at=WHEN))
    report = await log.verify(db)
    assert (report.ok, report.first_broken_seq) == (False, 1)
    assert report.reason == "entry 1 is marked erased but holds personal data"


async def test_a_key_copied_to_another_subject_does_not_open(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, login("ada"))
        await log.append(session, login("grace"))
    ada_key = await subject_key(db, log.actor_ref("user", "id-ada"))
    async with db.transaction() as session:
        await session.execute(
            update(AuditSubjectKey)
            .where(AuditSubjectKey.subject == log.actor_ref("user", "id-grace"))
            .values(wrapped=ada_key)
        )
    report = await log.verify(db)
    assert (report.first_broken_seq, report.reason) == (
        2,
        "entry 2 has sealed fields that do not open under its key",
    )


async def test_a_sealed_field_moved_to_another_entry_does_not_open(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, login("ada", address="192.0.2.1"))
        await log.append(session, login("ada", address="192.0.2.99"))
    first = (await stored(db))[0]
    async with db.transaction() as session:
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == 2)
            .values(source_address_sealed=first.source_address_sealed)
        )
    report = await log.verify(db)
    assert (report.first_broken_seq, report.reason) == (
        2,
        "entry 2 has sealed fields that do not open under its key",
    )


async def test_legacy_clear_entries_keep_verifying_and_erase_by_blanking(db: Database) -> None:
    async with db.transaction() as session:
        await legacy_log().append(session, login("ada", address="203.0.113.7"))
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, login("ada", address="203.0.113.8"))
    legacy, sealed = await stored(db)
    assert (legacy.actor_name, legacy.actor_name_sealed) == ("ada", None)
    assert (sealed.actor_name, sealed.actor_name_sealed is not None) == (None, True)
    async with db.sessions() as session:
        rows = await query(session, actor="ada", opener=log.opener())
    assert [(r.actor_name, r.source_address) for r in rows] == [
        ("ada", "203.0.113.7"),
        ("ada", "203.0.113.8"),
    ]
    assert (await log.verify(db)).ok
    async with db.transaction() as session:
        assert await log.erase_subject(session, actor_type="user", actor_id="id-ada") == 2
    legacy, sealed = (await stored(db))[:2]
    assert (legacy.actor_name, legacy.source_address, legacy.personal_erased) == (None, None, True)
    assert sealed.personal_erased and sealed.source_address_sealed is not None
    report = await log.verify(db)
    assert (report.ok, report.erased) == (True, 2)


async def test_entries_without_a_subject_stay_in_clear(db: Database) -> None:
    log = make_log()
    unknown = AuditEvent(
        action="auth.login",
        outcome="failure",
        actor_type="anonymous",
        actor_name="nobody",
        source_address="198.51.100.9",
    )
    async with db.transaction() as session:
        await log.append(session, unknown)
    (entry,) = await stored(db)
    assert (entry.actor_name, entry.source_address) == ("nobody", "198.51.100.9")
    assert entry.actor_name_sealed is None and entry.actor_ref is None
    async with db.sessions() as session:
        assert (await session.scalars(select(AuditSubjectKey))).all() == []
    assert (await log.verify(db)).ok


async def test_a_node_on_another_secret_refuses_to_seal_under_a_fresh_key(
    db: Database,
) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, login("ada"))
    keys = {p: derive(MASTER, p) for p in (Purpose.AUDIT_CHAIN, Purpose.AUDIT_PSEUDONYM)}
    keys[Purpose.AUDIT_CHECKPOINT] = derive(MASTER, Purpose.AUDIT_CHECKPOINT)
    other = AuditLog.from_secret(MASTER + "-other", keys=keys)
    with pytest.raises(ServiceUnavailable, match="subject key does not open"):
        async with db.transaction() as session:
            await other.append(session, login("ada"))
    assert len(await stored(db)) == 1
    # The stored key is left as it was, still under the first secret.
    ref = log.actor_ref("user", "id-ada")
    wrapped = await subject_key(db, ref)
    assert wrapped is not None and ref is not None
    with pytest.raises(UnwrapError):
        unwrap(derive(MASTER + "-other", Purpose.WRAP), wrapped, aad=wrap_aad(ref))
    assert len(unwrap(WRAP_KEY, wrapped, aad=wrap_aad(ref))) == 32
