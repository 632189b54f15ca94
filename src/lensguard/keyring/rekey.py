"""Rotation of the personal-field data key: a new version, every row re-sealed, the old retired.

``rekey`` starts a new data-key version unless a rotation is still unfinished (rows
remain on an older version): then it resumes that one. Rows are re-sealed in
primary-key order in batches, each batch in its own transaction, so a run killed at
any point loses nothing and the next run carries on. Sessions from before field
encryption have their address and browser sealed on the way.

Servers keep running: a node that meets the new version loads it, and each seal
reads the current version under a share lock. Retiring takes the older versions'
rows for update first (waiting for any transaction still sealing under them), then
counts again; only when no readable row is left on them are their bytes cleared, so
nothing they sealed can be read again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from lensguard.keyring import sealed
from lensguard.keyring.fields import DATA, FieldKeys, FieldUnreadable
from lensguard.keyring.models import FieldKey
from lensguard.keyring.sealed import SealedColumns, sealed_tables
from lensguard.store.db import Database
from lensguard.store.types import utcnow

BATCH = 200
Progress = Callable[[str, int, int], None]
"""Called with (table, rows done, rows to do) after each batch."""


@dataclass
class RekeyReport:
    version: int
    """The data-key version every row is sealed under now."""
    started: bool
    """True when this run made the version; False when it resumed one."""
    resealed: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)
    """Rows whose fields do not open (altered, or under a lost key): left as they are."""
    retired: list[int] = field(default_factory=list)


def _stale(spec: SealedColumns, version: int) -> ColumnElement[bool]:
    """Rows sealed under an older version, or holding legacy clear values."""
    model = spec.model
    older: ColumnElement[bool] = model.fields_version < version
    if not spec.legacy:
        return older
    clear = or_(*(getattr(model, name).is_not(None) for name in spec.legacy))
    return or_(older, and_(model.fields_version.is_(None), clear))


async def _live_versions(session: AsyncSession) -> list[int]:
    found = await session.execute(
        select(FieldKey.version)
        .where(FieldKey.purpose == DATA, FieldKey.retired_at.is_(None))
        .order_by(FieldKey.version)
    )
    return list(found.scalars())


async def _count_stale(session: AsyncSession, version: int, *, legacy: bool = True) -> int:
    total = 0
    for spec in sealed_tables():
        stale = _stale(spec, version) if legacy else spec.model.fields_version < version
        query = select(func.count()).select_from(spec.model).where(stale)
        total += int((await session.execute(query)).scalar_one())
    return total


class UnregisteredTable(RuntimeError):
    """The database holds sealed fields in a table this process does not know."""


def _sealed_in_schema(connection: Any) -> set[str]:
    schema = inspect(connection)
    return {
        table
        for table in schema.get_table_names()
        if any(column["name"] == "fields_version" for column in schema.get_columns(table))
    }


async def _check_registered(session: AsyncSession) -> None:
    """Refuse to move keys while a sealed table is unknown: retiring the old key would
    lose what that table sealed under it."""
    connection = await session.connection()
    found = await connection.run_sync(_sealed_in_schema)
    unknown = sorted(found - {spec.table for spec in sealed_tables()})
    if unknown:
        raise UnregisteredTable(
            f"the database has sealed fields in {', '.join(unknown)}, which this process "
            "has not registered (keyring.sealed.register); nothing was changed"
        )


async def _start(db: Database, keys: FieldKeys) -> tuple[int, bool]:
    async with db.transaction() as session:
        await _check_registered(session)
        live = await _live_versions(session)
        if live and await _count_stale(session, live[-1], legacy=False) > 0:
            return live[-1], False  # an unfinished rotation: resume it
        row = await keys.create(session, DATA, (live[-1] if live else 0) + 1)
        return row.version, True


async def _reseal(
    db: Database,
    keys: FieldKeys,
    *,
    spec: SealedColumns,
    version: int,
    report: RekeyReport,
    progress: Progress | None,
) -> None:
    model = spec.model
    async with db.sessions() as session:
        todo = int(
            (
                await session.execute(
                    select(func.count()).select_from(model).where(_stale(spec, version))
                )
            ).scalar_one()
        )
    done, after = 0, ""
    while True:
        async with db.transaction() as session:
            rows = (
                (
                    await session.execute(
                        select(model)
                        .where(_stale(spec, version), model.id > after)
                        .order_by(model.id)
                        .limit(BATCH)
                    )
                )
                .scalars()
                .all()
            )
            for row in rows:
                try:
                    await sealed.write(keys, session, spec, row, {})
                except FieldUnreadable:
                    report.unreadable[spec.table] = report.unreadable.get(spec.table, 0) + 1
                    continue
                report.resealed[spec.table] = report.resealed.get(spec.table, 0) + 1
        if not rows:
            return
        after = rows[-1].id
        done += len(rows)
        if progress is not None:
            progress(spec.table, done, max(todo, done))


async def _retire(db: Database, keys: FieldKeys, version: int, unreadable: int) -> list[int]:
    async with db.transaction() as session:
        older = (
            (
                await session.execute(
                    select(FieldKey)
                    .where(
                        FieldKey.purpose == DATA,
                        FieldKey.version < version,
                        FieldKey.retired_at.is_(None),
                    )
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        if not older or await _count_stale(session, version) > unreadable:
            return []
        retired = [row.version for row in older]
        await session.execute(
            update(FieldKey)
            .where(FieldKey.purpose == DATA, FieldKey.version.in_(retired))
            .values(wrapped=None, retired_at=utcnow())
        )
    keys.forget(retired)
    return retired


async def rekey(
    db: Database, keys: FieldKeys, *, progress: Progress | None = None, rounds: int = 5
) -> RekeyReport:
    """Move every sealed field to a new data key (or finish a move), then retire the old."""
    version, started = await _start(db, keys)
    report = RekeyReport(version=version, started=started)
    for _ in range(rounds):
        for spec in sealed_tables():
            await _reseal(db, keys, spec=spec, version=version, report=report, progress=progress)
        report.retired = await _retire(db, keys, version, sum(report.unreadable.values()))
        if report.retired or not await _has_older(db, version):
            break
        # A server sealed under the old version while this walked: walk again.
        report.unreadable.clear()
    return report


async def _has_older(db: Database, version: int) -> bool:
    async with db.sessions() as session:
        return any(v < version for v in await _live_versions(session))


async def status(db: Database) -> dict[str, Any]:
    """Which data-key versions are live, and how many rows are not on the newest yet."""
    async with db.sessions() as session:
        live = await _live_versions(session)
        stale = await _count_stale(session, live[-1]) if live else 0
    return {"live_versions": live, "current": live[-1] if live else None, "rows_behind": stale}
