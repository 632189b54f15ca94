"""Retention of everything that is not a recording: each class, dry runs, the lease."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lensguard.access.policy import load_policy
from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from lensguard.incidents.book import SYSTEM, IncidentBook
from lensguard.incidents.models import Incident, IncidentEntry
from lensguard.incidents.playbook import load_all
from lensguard.incidents.states import State
from lensguard.privacy.retention import DataRetention
from lensguard.recordings.lease import FileLease
from lensguard.settings import DataRetentionSettings
from lensguard.severity import Severity
from lensguard.store.db import Database
from lensguard.store.models import ApiKey, LoginSession, RecoveryCode, RefreshToken, Revocation
from lensguard.store.users import create_user
from tests.audit.support import make_log

DAY = timedelta(days=1)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        await database.dispose()


def job(db: Database, clock: ManualClock, tmp_path: Path, **settings: object) -> DataRetention:
    return DataRetention(
        db,
        make_log(),
        load_policy(None),
        DataRetentionSettings.model_validate(settings),
        clock=clock,
        lease=FileLease(tmp_path / "retention.lock"),
    )


async def seed(db: Database, now: datetime) -> dict[str, str]:
    ids: dict[str, str] = {}
    async with db.transaction() as session:
        ada = await create_user(session, username="ada", password_hash="x", role="viewer")
        bob = await create_user(session, username="bob", password_hash="x", role="viewer")
        ids["ada"], ids["bob"] = ada.id, bob.id

        def login(name: str, user_id: str, ended_days: int, used_days: int) -> None:
            session.add(
                LoginSession(
                    id=name,
                    user_id=user_id,
                    created_at=now - (used_days + 1) * DAY,
                    last_used_at=now - used_days * DAY,
                    expires_at=now - ended_days * DAY,
                )
            )
            session.add(RefreshToken(id=f"rt-{name}", session_id=name, token_hash=f"h-{name}"))

        login("s-old", ada.id, ended_days=40, used_days=41)
        login("s-newest", ada.id, ended_days=35, used_days=36)  # ada's last sign-in: kept
        login("s-recent", bob.id, ended_days=10, used_days=11)

        def key(name: str, revoked_days: int | None) -> None:
            session.add(
                ApiKey(
                    id=name,
                    name=name,
                    owner_user_id=ada.id,
                    secret_hash=f"h-{name}",
                    scopes=["account_self"],
                    expires_at=now + 30 * DAY,
                    revoked_at=None if revoked_days is None else now - revoked_days * DAY,
                )
            )

        key("k-old", 100)
        key("k-recent", 10)
        key("k-live", None)
        session.add(
            RecoveryCode(id="c-used", user_id=ada.id, code_hash="a", used_at=now - 40 * DAY)
        )
        session.add(RecoveryCode(id="c-fresh", user_id=ada.id, code_hash="b"))
        session.add(Revocation(key="jti:gone", expires_at=now - DAY))
        session.add(Revocation(key="jti:live", expires_at=now + DAY))
    return ids


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def ids_of(db: Database, column: object) -> set[str]:
    async with db.sessions() as session:
        return set(await session.scalars(select(column)))  # type: ignore[call-overload]


async def test_each_class_goes_after_its_days_and_a_dry_run_changes_nothing(
    db: Database, manual_clock: ManualClock, tmp_path: Path
) -> None:
    now = manual_clock.now()
    await seed(db, now)
    book = IncidentBook(db, make_log(), load_all())
    old = await book.open(
        kind="unclassified", title="old", severity=Severity.LOW, at=now - 400 * DAY, actor=SYSTEM
    )
    await book.change_state(old.id, State.CLOSED, at=now - 400 * DAY, actor=SYSTEM)
    running = await book.open(
        kind="unclassified", title="still", severity=Severity.LOW, at=now - 400 * DAY, actor=SYSTEM
    )
    recent = await book.open(
        kind="unclassified", title="new", severity=Severity.LOW, at=now - 10 * DAY, actor=SYSTEM
    )
    await book.change_state(recent.id, State.FALSE_POSITIVE, at=now - 10 * DAY, actor=SYSTEM)

    expected = {
        "sessions": 1,
        "api_keys": 1,
        "recovery_codes": 1,
        "break_glass": 0,
        "revocations": 1,
        "incidents": 1,
        "audit_log": 0,  # every entry is new
    }
    dry = await job(db, manual_clock, tmp_path).run(dry_run=True)
    assert dry.removed == expected and dry.dry_run
    assert await count(db, ApiKey) == 3 and await count(db, Incident) == 3

    done = await job(db, manual_clock, tmp_path).run()
    assert done.removed == expected
    assert await ids_of(db, LoginSession.id) == {"s-newest", "s-recent"}
    assert await ids_of(db, RefreshToken.id) == {"rt-s-newest", "rt-s-recent"}
    assert await ids_of(db, ApiKey.id) == {"k-recent", "k-live"}
    assert await ids_of(db, RecoveryCode.id) == {"c-fresh"}
    assert await ids_of(db, Revocation.key) == {"jti:live"}
    assert await ids_of(db, Incident.id) == {running.id, recent.id}
    assert await count(db, IncidentEntry, IncidentEntry.incident_id == old.id) == 0

    async with db.sessions() as session:
        runs = list(
            await session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "privacy.retention_run")
            )
        )
    assert [json.loads(r)["removed"] for r in runs] == [expected, expected]
    assert [json.loads(r)["dry_run"] for r in runs] == [True, False]
    again = await job(db, manual_clock, tmp_path).run()
    assert not any(again.removed.values())
    assert await count(db, AuditEntry, AuditEntry.action == "privacy.retention_run") == 2


async def test_batches_commit_on_their_own_and_the_lease_keeps_one_run(
    db: Database, manual_clock: ManualClock, tmp_path: Path
) -> None:
    now = manual_clock.now()
    async with db.transaction() as session:
        user = await create_user(session, username="ada", password_hash="x", role="viewer")
        for n in range(7):
            session.add(
                ApiKey(
                    id=f"k{n}",
                    name="k",
                    owner_user_id=user.id,
                    secret_hash=f"h{n}",
                    scopes=[],
                    expires_at=now - (100 + n) * DAY,
                )
            )
    holder = FileLease(tmp_path / "retention.lock")
    assert await holder.acquire()
    blocked = await job(db, manual_clock, tmp_path).run()
    assert blocked.skipped == "another run holds the lease" and not blocked.removed
    await holder.release()
    done = await job(db, manual_clock, tmp_path, batch=2).run()
    assert done.removed["api_keys"] == 7 and await count(db, ApiKey) == 0


def test_settings_refuse_bad_values() -> None:
    for bad in ({"sessions_days": 0}, {"inactive_action": "erase"}, {"batch": 0}, {"x": 1}):
        with pytest.raises(ValueError):
            DataRetentionSettings.model_validate(bad)
