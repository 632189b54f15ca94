"""Training the anomaly model: history to feature windows to a signed model file.

History is the audit log (``audit_observations``: every entry is something a principal
did, with its outcome and address) or a file of events in the documented schema. Both
become observations, then feature windows (``threats.features``), then a forest.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.audit.seal import Opener
from lensguard.logs import get_logger
from lensguard.protect.subkeys import Purpose, derive
from lensguard.store.db import Database
from lensguard.threats.features import Aggregator, Row
from lensguard.threats.model import AnomalyModel, ModelError
from lensguard.threats.model_settings import ModelSettings
from lensguard.threats.observation import MalformedEvent, Observation, from_json
from lensguard.threats.replay import parse_line

log = get_logger("lensguard.threats.training")
BATCH = 5_000


def model_key(master_secret: str) -> bytes:
    """The key that signs and verifies the model file."""
    return derive(master_secret, Purpose.THREAT_MODEL)


def audit_observation(entry: AuditEntry, opener: Opener | None = None) -> Observation:
    """One audit entry as the detectors would have seen it (``opener``: sealed addresses)."""
    try:
        details = json.loads(entry.details) if entry.details else {}
    except ValueError:
        details = {}
    fields = details if isinstance(details, dict) else {}
    if entry.resource_type == "device" and entry.resource_id:
        fields = {**fields, "device_id": entry.resource_id}
    fields = {**fields, "route": entry.action}
    return Observation(
        id=f"audit:{entry.seq}",
        type=entry.action,
        at=entry.ts.timestamp(),
        address=opener.personal(entry)[1] if opener is not None else entry.source_address,
        account=entry.actor_id,
        outcome=entry.outcome,
        fields=fields,
    )


async def audit_observations(
    db: Database, since: datetime, opener: Opener | None = None
) -> AsyncIterator[Observation]:
    """Audit entries from ``since`` on, in order, read in batches."""
    after = -1
    while True:
        async with db.sessions() as session:
            rows = list(
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.ts >= since, AuditEntry.seq > after)
                    .order_by(AuditEntry.seq)
                    .limit(BATCH)
                )
            )
            if opener is not None:
                await opener.load_entries(session, rows)
        if not rows:
            return
        for row in rows:
            yield audit_observation(row, opener)
        after = rows[-1].seq


def file_observations(
    lines: Iterable[bytes | str], on_error: Callable[[int, str], None]
) -> Iterable[Observation]:
    """Events of a JSON Lines file; malformed lines go to ``on_error`` and are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield from_json(parse_line(line))
        except MalformedEvent as exc:
            on_error(number, str(exc))


def rows_of(observations: Iterable[Observation], window_seconds: float) -> list[Row]:
    """The feature windows of ``observations`` (in time order)."""
    aggregator = Aggregator(window_seconds)
    rows: list[Row] = []
    for observation in observations:
        rows.extend(aggregator.add(observation))
    rows.extend(aggregator.flush())
    return rows


def model_path(var_dir: Path, settings: ModelSettings) -> Path:
    return var_dir / settings.file


def load_model(var_dir: Path, settings: ModelSettings, master_secret: str) -> AnomalyModel | None:
    """The stored model, or None when there is none, it is off, or it is refused (logged)."""
    path = model_path(var_dir, settings)
    if not settings.enabled or not path.exists():
        return None
    try:
        return AnomalyModel.load(
            path, model_key(master_secret), window_seconds=settings.window_seconds
        )
    except (ModelError, OSError) as exc:
        log.error("threat_model_refused", path=str(path), error=str(exc))
        return None
