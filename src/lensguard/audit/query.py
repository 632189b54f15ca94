"""Read the audit log: filtered, keyset-paginated queries and the latest checkpoint."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit.checkpoint import Checkpoint
from lensguard.audit.entry import AuditRow
from lensguard.audit.models import AuditCheckpoint, AuditEntry
from lensguard.audit.seal import Opener

MAX_LIMIT = 10_000
_LIKE_ESCAPE = "\\"


def _like_prefix(prefix: str) -> str:
    # The caller's text is literal: only our trailing % is a wildcard.
    for char in (_LIKE_ESCAPE, "%", "_"):
        prefix = prefix.replace(char, _LIKE_ESCAPE + char)
    return prefix + "%"


def _filtered(
    *,
    actor: str | None,
    action: str | None,
    resource_type: str | None,
    resource_id: str | None,
    since: datetime | None,
    until: datetime | None,
    after_seq: int | None,
    opener: Opener | None,
) -> Select[AuditEntry]:
    stmt = select(AuditEntry)
    if actor is not None:
        matches = [AuditEntry.actor_name == actor, AuditEntry.actor_id == actor]
        if opener is not None:
            matches.append(AuditEntry.actor_name_index == opener.name_index(actor))
        stmt = stmt.where(or_(*matches))
    if action is not None:
        if action.endswith("*"):
            pattern = _like_prefix(action[:-1])
            stmt = stmt.where(AuditEntry.action.like(pattern, escape=_LIKE_ESCAPE))
        else:
            stmt = stmt.where(AuditEntry.action == action)
    if resource_type is not None:
        stmt = stmt.where(AuditEntry.resource_type == resource_type)
    if resource_id is not None:
        stmt = stmt.where(AuditEntry.resource_id == resource_id)
    if since is not None:
        stmt = stmt.where(AuditEntry.ts >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.ts < until)
    if after_seq is not None:
        stmt = stmt.where(AuditEntry.seq > after_seq)
    return stmt


def to_row(entry: AuditEntry, opener: Opener | None = None) -> AuditRow:
    """A detached ``AuditRow`` from a mapped entry (sealed fields opened by ``opener``,
    whose keys must be loaded; without one, or once shredded, they read as None)."""
    details: dict[str, Any] = (
        opener.details(entry) if opener is not None else json.loads(entry.details)
    )
    name, address = (
        opener.personal(entry) if opener is not None else (entry.actor_name, entry.source_address)
    )
    return AuditRow(
        seq=entry.seq,
        ts=entry.ts,
        actor_type=entry.actor_type,
        actor_ref=entry.actor_ref,
        actor_id=entry.actor_id,
        actor_name=name,
        source_address=address,
        personal_erased=entry.personal_erased,
        action=entry.action,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        outcome=entry.outcome,
        details=details,
        prev_hash=entry.prev_hash,
        entry_hash=entry.entry_hash,
    )


async def query(
    session: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | None = None,
    limit: int = 100,
    opener: Opener | None = None,
) -> list[AuditRow]:
    """Entries in sequence order after ``after_seq``; ``action`` may end in ``*`` (prefix).

    ``actor`` matches the actor's name or id; ``since`` is inclusive, ``until`` exclusive.
    ``opener`` (``AuditLog.opener()``) opens sealed names and addresses and finds sealed
    names; without it they read as None.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    texts = (actor, action, resource_type, resource_id)
    if any(value is not None and "\x00" in value for value in texts):
        return []  # no entry holds NUL (AuditEvent refuses it), and PostgreSQL cannot bind it
    stmt = _filtered(
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        since=since,
        until=until,
        after_seq=after_seq,
        opener=opener,
    )
    # populate_existing: a session reused across transactions must not serve stale
    # copies of entries that erasure has since blanked.
    stmt = stmt.order_by(AuditEntry.seq).limit(limit).execution_options(populate_existing=True)
    entries = list((await session.execute(stmt)).scalars())
    if opener is not None:
        await opener.load_entries(session, entries)
    return [to_row(entry, opener) for entry in entries]


async def latest_checkpoint(session: AsyncSession) -> Checkpoint | None:
    """The stored checkpoint with the highest sequence number, or None."""
    result = await session.execute(
        select(
            AuditCheckpoint.seq,
            AuditCheckpoint.entry_hash,
            AuditCheckpoint.ts,
            AuditCheckpoint.signature,
            AuditCheckpoint.key_id,
        )
        .order_by(AuditCheckpoint.seq.desc())
        .limit(1)
    )
    row = result.one_or_none()
    return None if row is None else Checkpoint(*row)
