"""Training reads sealed audit addresses through the log's opener."""

from __future__ import annotations

from datetime import UTC, datetime

from lensguard.audit import AuditEvent, AuditLog
from lensguard.store.db import Database
from lensguard.threats.training import audit_observations
from tests.harness.server import strong_secret

SINCE = datetime(2000, 1, 1, tzinfo=UTC)


async def test_sealed_addresses_are_seen_only_with_the_opener(db: Database) -> None:
    log = AuditLog.from_secret(strong_secret())
    event = AuditEvent(
        action="auth.login",
        outcome="failure",
        actor_type="user",
        actor_id="id-ada",
        actor_name="ada",
        source_address="203.0.113.50",
    )
    async with db.transaction() as session:
        await log.append(session, event)
    opened = [o async for o in audit_observations(db, SINCE, log.opener())]
    sealed = [o async for o in audit_observations(db, SINCE)]
    assert [(o.address, o.account) for o in opened] == [("203.0.113.50", "id-ada")]
    assert [(o.address, o.account) for o in sealed] == [(None, "id-ada")]
