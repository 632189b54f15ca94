"""Reading the chain for verification: the head snapshot and batches of entries.

Each read is its own short transaction (on SQLite a transaction holds the write
lock), so verifying a large log never stalls the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, func, select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from lensguard.audit.checkpoint import Checkpoint
from lensguard.audit.models import HEAD_ID, AuditCheckpoint, AuditEntry, AuditHead
from lensguard.store.db import Database

Batch = tuple[Sequence[Sequence[Any]], dict[int, Checkpoint]]
"""Entries (columns in ``ENTRY_COLUMNS`` order) and the checkpoints among them, by seq."""


class LenientUTC(TypeDecorator[datetime]):
    """Timestamps read for verification: an unreadable one becomes None, not a crash.

    SQLite keeps timestamps as text, which anyone with the file can garble; the
    verifier must report that entry, not fail on the whole batch.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return None
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


CHECKPOINT_COLUMNS = (
    AuditCheckpoint.seq,
    AuditCheckpoint.entry_hash,
    type_coerce(AuditCheckpoint.ts, LenientUTC()).label("ts"),
    AuditCheckpoint.signature,
    AuditCheckpoint.key_id,
)
ENTRY_COLUMNS = (
    AuditEntry.seq,
    type_coerce(AuditEntry.ts, LenientUTC()).label("ts"),
    AuditEntry.actor_type,
    AuditEntry.actor_ref,
    AuditEntry.actor_id,
    AuditEntry.actor_name,
    AuditEntry.source_address,
    AuditEntry.personal_digest,
    AuditEntry.personal_erased,
    AuditEntry.action,
    AuditEntry.resource_type,
    AuditEntry.resource_id,
    AuditEntry.outcome,
    AuditEntry.details,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
    AuditEntry.actor_name_sealed,
    AuditEntry.source_address_sealed,
    AuditEntry.actor_name_index,
    AuditEntry.details_ref,
    AuditEntry.details_sealed,
    AuditEntry.details_digest,
)


@dataclass(frozen=True)
class Snapshot:
    """The head row and the highest stored sequence numbers, read at one instant."""

    last_seq: int | None
    """None when the head row is missing."""
    last_hash: str
    max_seq: int
    max_checkpoint: int | None


async def read_snapshot(db: Database) -> Snapshot:
    """Head and maxima in one statement, so PostgreSQL reads them from one snapshot."""

    def scalar(column: Any, *where: Any) -> Any:
        return select(column).where(*where).scalar_subquery()

    statement = select(
        scalar(AuditHead.last_seq, AuditHead.id == HEAD_ID),
        scalar(AuditHead.last_hash, AuditHead.id == HEAD_ID),
        scalar(func.max(AuditEntry.seq)),
        scalar(func.max(AuditCheckpoint.seq)),
    )
    async with db.engine.connect() as conn:
        last_seq, last_hash, max_seq, max_checkpoint = (await conn.execute(statement)).one()
    return Snapshot(
        None if last_seq is None else int(last_seq),
        str(last_hash),
        int(max_seq or 0),
        None if max_checkpoint is None else int(max_checkpoint),
    )


async def read_batch(db: Database, *, after: int, upto: int, limit: int) -> Batch:
    """Up to ``limit`` entries with ``after < seq <= upto``, and the checkpoints among them."""
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(*ENTRY_COLUMNS)
                .where(AuditEntry.seq > after, AuditEntry.seq <= upto)
                .order_by(AuditEntry.seq)
                .limit(limit)
            )
        ).all()
        hi = rows[-1].seq if rows else upto
        # Checkpoint 0 (the empty log) comes with the first batch.
        cps = await conn.execute(
            select(*CHECKPOINT_COLUMNS).where(
                AuditCheckpoint.seq >= (after + 1 if after else 0), AuditCheckpoint.seq <= hi
            )
        )
        return rows, {cp.seq: Checkpoint(*cp) for cp in cps}
