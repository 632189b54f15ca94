"""A rotation re-wraps the audit subject keys; sealed entries stay readable and erasable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lensguard.audit import AuditEvent, AuditLog, query
from lensguard.audit.models import AuditEntry, AuditSubjectKey
from lensguard.audit.subject_keys import wrap_aad
from lensguard.protect.subkeys import Purpose, derive
from lensguard.protect.wrap import UnwrapError, unwrap
from lensguard.rotation.engine import Rotation, rotation_status
from lensguard.store.db import Database
from tests.harness.server import strong_secret
from tests.rotation.support import audit_keys


def login(name: str, address: str) -> AuditEvent:
    return AuditEvent(
        action="auth.login",
        outcome="success",
        actor_type="user",
        actor_id=f"id-{name}",
        actor_name=name,
        source_address=address,
    )


async def subject_rows(db: Database) -> dict[str, bytes]:
    async with db.sessions() as session:
        rows = (await session.execute(select(AuditSubjectKey))).scalars()
        return {row.subject: row.wrapped for row in rows}


async def test_rotation_rewraps_subject_keys_and_sealed_entries_stay_readable(
    db: Database, db_url: str
) -> None:
    old, new = strong_secret(), strong_secret()
    before_log = AuditLog.from_secret(old)
    async with db.transaction() as session:
        await before_log.append(session, login("ada", "203.0.113.7"))
        await before_log.append(session, login("grace", "198.51.100.4"))
    before = await subject_rows(db)
    assert len(before) == 2
    async with db.sessions() as session:
        sealed = {e.seq: e.actor_name_sealed for e in (await session.scalars(select(AuditEntry)))}

    report = await Rotation(db, old=old, new=new).run()
    assert (report.moved, report.unreadable) == (2, 0)

    after = await subject_rows(db)
    assert after.keys() == before.keys()
    old_wrap, new_wrap = derive(old, Purpose.WRAP), derive(new, Purpose.WRAP)
    for subject, wrapped in after.items():
        assert wrapped != before[subject]
        # The same data key, now under the new wrap key only.
        key = unwrap(new_wrap, wrapped, aad=wrap_aad(subject))
        assert key == unwrap(old_wrap, before[subject], aad=wrap_aad(subject))
        with pytest.raises(UnwrapError):
            unwrap(old_wrap, wrapped, aad=wrap_aad(subject))
    async with db.sessions() as session:
        still = {e.seq: e.actor_name_sealed for e in (await session.scalars(select(AuditEntry)))}
    # The sealed fields themselves are untouched: only their keys moved.
    assert {seq: still[seq] for seq in sealed} == sealed

    log = AuditLog.from_secret(new, keys=audit_keys(db_url, new))
    async with db.sessions() as session:
        rows = await query(session, actor="ada", opener=log.opener())
    assert [(r.actor_name, r.source_address) for r in rows] == [("ada", "203.0.113.7")]
    assert (await log.verify(db)).ok
    status = await rotation_status(db, new)
    kinds = {kind.name: (kind.total, kind.opening) for kind in status.kinds}
    assert kinds["audit_subject_keys"] == (2, 2)

    # Erasure after the rotation shreds the re-wrapped key.
    async with db.transaction() as session:
        assert await log.erase_subject(session, actor_type="user", actor_id="id-ada") == 1
    assert log.actor_ref("user", "id-ada") not in await subject_rows(db)
    verified = await log.verify(db)
    assert (verified.ok, verified.erased) == (True, 1)
