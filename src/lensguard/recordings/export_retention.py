"""Retention of evidence bundles: an export goes ``export`` days after it was built.

A bundle (``recording_exports`` row, stored as ``export-<id>``) expires the days of
class ``export`` on its device's site (the site's own days, else
``recordings.retention.days.export``) after its ``created_at``. A bundle whose device
and range an active legal hold touches stays, however old.

Removal follows the segments' order, each step safe to repeat after a crash:
1. the row's wrapped data key is set to NULL (crypto-shredding: copies of the stored
   bundle are unreadable from here on);
2. the stored object ``export-<id>`` is deleted (one already gone is fine);
3. in one transaction ``recording.export_expired`` is audited (id, device, range,
   SHA-256, bytes) and the row is deleted.
A run stopped after 1 or 2 leaves the row, so the next run selects it again and
finishes. The row goes rather than being marked: what it held (who, device, range,
reason, digest, key) is in the audited ``recording.exported`` entry, and the expiry
is its own entry, so the custody trail stays whole without a row nobody can open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.recordings.export import STORE_PREFIX
from lensguard.recordings.export_models import RecordingExport
from lensguard.recordings.holds import Holds
from lensguard.recordings.store import SegmentStore
from lensguard.recordings.trim import Crash
from lensguard.store.db import Database

EXPIRED_ACTION = "recording.export_expired"
EXPORT_CLASS = "export"


async def page_of_exports(
    session: AsyncSession, *, built_by: datetime, after: str | None, limit: int
) -> Sequence[RecordingExport]:
    """Bundles built at or before ``built_by``, in id order after ``after``."""
    query = select(RecordingExport).where(RecordingExport.created_at <= built_by)
    if after is not None:
        query = query.where(RecordingExport.id > after)
    result = await session.execute(query.order_by(RecordingExport.id).limit(limit))
    return result.scalars().all()


def expired(row: RecordingExport, days: int, now: datetime) -> bool:
    """True when the bundle is older than ``days``."""
    return row.created_at <= now - timedelta(days=days)


def held(holds: Holds, row: RecordingExport) -> bool:
    """True when an active hold touches the bundle's device and range."""
    return holds.covers_range(row.device_id, row.starts_at, row.ends_at)


async def remove_export(
    db: Database,
    store: SegmentStore,
    audit: AuditLog,
    row: RecordingExport,
    *,
    crash: Crash | None = None,
) -> None:
    """Remove one bundle: its key, then its stored object, then the row (see the module doc)."""
    async with db.transaction() as session:
        await session.execute(
            update(RecordingExport)
            .where(RecordingExport.id == row.id, RecordingExport.wrapped_key.is_not(None))
            .values(wrapped_key=None)
            .execution_options(synchronize_session=False)
        )
    if crash is not None:
        crash("keys")
    await store.delete(STORE_PREFIX + row.id)
    if crash is not None:
        crash("files")
    async with db.transaction() as session:
        present = await session.execute(
            select(RecordingExport.id).where(RecordingExport.id == row.id)
        )
        if present.scalar_one_or_none() is None:
            return
        await audit.append(
            session,
            AuditEvent(
                action=EXPIRED_ACTION,
                outcome="success",
                actor_type="system",
                resource_type="recording_export",
                resource_id=row.id,
                details={
                    "device_id": row.device_id,
                    "reason": "retention",
                    "start": row.starts_at.isoformat(),
                    "end": row.ends_at.isoformat(),
                    "created_at": row.created_at.isoformat(),
                    "bundle_sha256": row.digest,
                    "bytes": row.size,
                },
            ),
        )
        await session.execute(
            delete(RecordingExport)
            .where(RecordingExport.id == row.id)
            .execution_options(synchronize_session=False)
        )
    if crash is not None:
        crash("rows")
