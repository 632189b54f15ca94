"""Recordings a node was running when it died: sealed at its next start-up.

Every recording a node runs has a row in ``recordings_open`` (``OpenRecording``),
written when it starts and removed when it is sealed. A node killed mid-segment
leaves its rows; at start-up, before it records anything, it anchors the head of
each such recording as ``sealed`` with reason ``interrupted`` and drops the row.
The segment that was open is lost (its bytes were never handed to the store, or
only as a ``.partial-*`` file, which is discarded); every segment written before
is indexed, chained and now sealed, so ``lensguard recordings verify`` passes.

Only this node's rows are touched (``node_id``): in a cluster another node's
recordings may be running right now.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select

from lensguard.audit.log import AuditLog
from lensguard.logs import get_logger
from lensguard.private import write_private
from lensguard.recordings.index import anchor, latest_anchor, segments_of
from lensguard.recordings.models import OpenRecording
from lensguard.recordings.store import LocalStore, SegmentStore
from lensguard.store.db import Database

log = get_logger("lensguard.recordings")
INTERRUPTED = "interrupted"
NODE_ID_FILE = "node-id"


def node_id(var_dir: Path) -> str:
    """This node's id, kept in ``<var_dir>/node-id`` (made on first use)."""
    path = var_dir / NODE_ID_FILE
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text
    value = secrets.token_hex(16)
    var_dir.mkdir(parents=True, exist_ok=True)
    write_private(path, (value + "\n").encode("ascii"))
    return value


@dataclass(frozen=True)
class Recovered:
    """What start-up recovery did."""

    sealed: int
    """Recordings sealed as interrupted."""
    empty: int
    """Open recordings that never kept a segment (nothing to seal)."""
    partials: int
    """Partial segment files discarded."""


async def recover(db: Database, audit: AuditLog, store: SegmentStore, node: str) -> Recovered:
    """Seal this node's recordings left open by a crash; discard partial files."""
    partials = store.discard_partials() if isinstance(store, LocalStore) else 0
    sealed = empty = 0
    async with db.sessions() as session:
        rows = (
            (await session.execute(select(OpenRecording).where(OpenRecording.node_id == node)))
            .scalars()
            .all()
        )
        ids = [(row.recording_id, row.device_id) for row in rows]
    for recording_id, device_id in ids:
        async with db.transaction() as session:
            if await segments_of(session, recording_id):
                last = await latest_anchor(session, recording_id)
                if last is None or not last.sealed:
                    await anchor(session, audit, recording_id, sealed=True, reason=INTERRUPTED)
                    sealed += 1
            else:
                empty += 1
            await session.execute(
                delete(OpenRecording).where(OpenRecording.recording_id == recording_id)
            )
        log.info("recording_interrupted", recording_id=recording_id, device_id=device_id)
    return Recovered(sealed, empty, partials)
