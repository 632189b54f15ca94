"""Personal values inside ``details``: sealed under the key of whom the entry is about."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from lensguard.audit import AuditEvent, AuditLog, query
from lensguard.audit.models import AuditEntry
from lensguard.settings import AuditSettings
from lensguard.store.db import Database
from tests.audit.support import login, make_log

ADDRESS = "203.0.113.9"


def about_bob(**details: object) -> AuditEvent:
    """An administrator's entry about Bob's account, naming Bob's address and browser."""
    return AuditEvent(
        action="user.update",
        outcome="success",
        actor_type="user",
        actor_id="id-admin",
        actor_name="admin",
        source_address="192.0.2.50",
        resource_type="user",
        resource_id="id-bob",
        details={"role": "viewer", **details},
    )


async def stored(db: Database) -> list[AuditEntry]:
    async with db.sessions() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


async def rows(db: Database, log: AuditLog) -> list[dict[str, object]]:
    async with db.sessions() as session:
        return [row.details for row in await query(session, opener=log.opener())]


async def test_personal_details_are_sealed_under_the_user_the_entry_is_about(
    db: Database,
) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, about_bob(address=ADDRESS, user_agent="Firefox/140"))
    (entry,) = await stored(db)
    assert json.loads(entry.details) == {"role": "viewer"}
    assert entry.details_sealed is not None and ADDRESS.encode() not in entry.details_sealed
    assert entry.details_ref == log.actor_ref("user", "id-bob") != entry.actor_ref
    assert entry.details_digest is not None
    assert await rows(db, log) == [
        {"role": "viewer", "address": ADDRESS, "user_agent": "Firefox/140"}
    ]
    async with db.sessions() as session:
        (unopened,) = await query(session)
    assert unopened.details == {"role": "viewer"}
    assert (await log.verify(db)).ok


async def test_erasing_the_person_shreds_their_details_and_keeps_the_actor(
    db: Database,
) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, about_bob(address=ADDRESS))
        await log.append(session, login("admin", address="192.0.2.50"))
    async with db.transaction() as session:
        # Bob never acted himself: no entry of his is erased, one about him is.
        assert await log.erase_subject(session, actor_type="user", actor_id="id-bob") == 0
    first, _, erasure = await stored(db)
    assert first.details_sealed is None and first.details_digest is not None
    assert not first.personal_erased
    assert json.loads(erasure.details)["details"] == 1
    async with db.sessions() as session:
        opened = await query(session, opener=log.opener())
    assert opened[0].details == {"role": "viewer"}
    assert (opened[0].actor_name, opened[0].source_address) == ("admin", "192.0.2.50")
    report = await log.verify(db)
    assert (report.ok, report.checked, report.erased) == (True, 3, 1)


async def test_erasing_the_actor_leaves_the_details_of_whom_it_was_about(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, about_bob(address=ADDRESS))
    async with db.transaction() as session:
        assert await log.erase_subject(session, actor_type="user", actor_id="id-admin") == 1
    assert await rows(db, log) == [
        {"role": "viewer", "address": ADDRESS},
        {"actor_ref": log.actor_ref("user", "id-admin"), "entries": 1, "details": 0},
    ]
    report = await log.verify(db)
    assert (report.ok, report.erased) == (True, 1)


async def test_an_actors_own_details_go_with_the_actor(db: Database) -> None:
    log = make_log()
    event = AuditEvent(
        action="auth.login",
        outcome="success",
        actor_type="user",
        actor_id="id-ada",
        actor_name="ada",
        resource_type="session",
        resource_id="s-1",
        details={"client_address": ADDRESS, "factor": "totp"},
    )
    async with db.transaction() as session:
        await log.append(session, event)
    (entry,) = await stored(db)
    assert entry.details_ref == entry.actor_ref
    async with db.transaction() as session:
        assert await log.erase_subject(session, actor_type="user", actor_id="id-ada") == 1
    assert (await rows(db, log))[0] == {"factor": "totp"}
    report = await log.verify(db)
    assert (report.ok, report.erased) == (True, 1)  # counted once, not once per part


async def test_without_a_subject_or_personal_keys_details_stay_whole(db: Database) -> None:
    log = make_log()
    system = AuditEvent(
        action="threats.response",
        outcome="success",
        actor_type="system",
        resource_type="address",
        resource_id=ADDRESS,
        details={"address": ADDRESS, "status": "applied"},
    )
    async with db.transaction() as session:
        await log.append(session, system)
        await log.append(session, about_bob(reason="moved team"))
    async with db.transaction() as session:
        await make_log(personal_details=()).append(session, about_bob(address=ADDRESS))
    entries = await stored(db)
    assert [json.loads(e.details) for e in entries] == [
        {"address": ADDRESS, "status": "applied"},
        {"role": "viewer", "reason": "moved team"},
        {"role": "viewer", "address": ADDRESS},
    ]
    assert all(e.details_sealed is None and e.details_digest is None for e in entries)
    assert (await log.verify(db)).ok


async def test_a_configured_key_is_sealed_too(db: Database) -> None:
    log = make_log(personal_details=("reason",))
    async with db.transaction() as session:
        await log.append(session, about_bob(reason="moved team", address=ADDRESS))
    (entry,) = await stored(db)
    # Only what was configured: the default list is replaced, not extended.
    assert json.loads(entry.details) == {"role": "viewer", "address": ADDRESS}
    assert (await rows(db, log))[0]["reason"] == "moved team"


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"details_sealed": None}, "has erased details but no later gdpr.erasure entry"),
        ({"details_digest": None}, "has sealed details without their digest"),
        ({"details_digest": "0" * 64}, "has altered details"),
        ({"details_ref": "f" * 64}, "has sealed details that do not open under its key"),
        ({"details": '{"role":"admin"}'}, "was altered (its hash does not match)"),
    ],
)
async def test_tampered_sealed_details_are_found(
    db: Database, values: dict[str, object], reason: str
) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, login("admin"))
        await log.append(session, about_bob(address=ADDRESS))
    async with db.transaction() as session:
        await session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(**values))
    report = await log.verify(db)
    assert (report.ok, report.first_broken_seq) == (False, 2)
    assert report.reason is not None and reason in report.reason


async def test_sealed_details_moved_to_another_entry_do_not_open(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        await log.append(session, about_bob(address=ADDRESS))
        await log.append(session, about_bob(address="198.51.100.1"))
    first, second = await stored(db)
    async with db.transaction() as session:
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == 2)
            .values(details_sealed=first.details_sealed, details_digest=first.details_digest)
        )
    report = await log.verify(db)
    assert (report.first_broken_seq, report.reason) == (
        2,
        "entry 2 has sealed details that do not open under its key",
    )
    assert second.details_sealed != first.details_sealed


def test_the_setting_names_details_keys() -> None:
    assert "address" in AuditSettings().personal_details
    assert AuditSettings(personal_details=["reason", "reason"]).personal_details == ["reason"]
    with pytest.raises(ValidationError, match="is not a details key"):
        AuditSettings(personal_details=["an address"])
