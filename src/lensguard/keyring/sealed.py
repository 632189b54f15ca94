"""Which columns hold sealed personal fields, and reading and writing them by row.

A table with sealed fields stores each as ``<name>_sealed`` (``keyring.fields``
format) and the data-key version of the row's seals in ``fields_version``. A row is
always sealed under one version: writing any field re-seals all of the row's fields,
which is also what ``rekey`` does. ``legacy`` names fields that rows from before
field encryption hold in clear under the plain column name; reading falls back to
it, and the next write (or ``rekey``) seals it and clears the clear column.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.keyring.fields import FieldKeys, FieldUnreadable
from lensguard.store.models import LoginSession, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SealedColumns:
    """The sealed fields of one table."""

    table: str
    model: type[Any]
    fields: tuple[str, ...]
    legacy: tuple[str, ...] = ()

    def where(self, row: Any, name: str) -> str:
        return f"{self.table}.{name}|{row.id}"


USERS = SealedColumns("users", User, ("email", "display_name", "phone"))
SESSIONS = SealedColumns(
    "login_sessions",
    LoginSession,
    ("client_address", "user_agent"),
    legacy=("client_address", "user_agent"),
)
_REGISTERED: dict[str, SealedColumns] = {spec.table: spec for spec in (USERS, SESSIONS)}


def register(spec: SealedColumns) -> SealedColumns:
    """Make ``spec`` known to ``rekey`` and the subject export: a package above this one
    registers its table where it defines the model (``incidents.models``). ``rekey``
    refuses to run while the database holds a sealed table nobody registered."""
    known = _REGISTERED.setdefault(spec.table, spec)
    if known != spec:
        raise ValueError(f"{spec.table} is registered with other sealed fields already")
    return spec


def sealed_tables() -> tuple[SealedColumns, ...]:
    """Every registered table with sealed fields, in registration order."""
    return tuple(_REGISTERED.values())


def sealed_spec(table: str) -> SealedColumns | None:
    """The sealed fields of ``table``, or None when it has none."""
    return _REGISTERED.get(table)


async def read(
    keys: FieldKeys, session: AsyncSession, spec: SealedColumns, row: Any, *, strict: bool = False
) -> dict[str, str | None]:
    """The row's fields in clear; an unreadable one is None (raises when ``strict``)."""
    values: dict[str, str | None] = {}
    for name in spec.fields:
        sealed = getattr(row, f"{name}_sealed")
        if sealed is None:
            values[name] = getattr(row, name) if name in spec.legacy else None
            continue
        try:
            values[name] = await keys.open(session, sealed, where=spec.where(row, name))
        except FieldUnreadable:
            if strict:
                raise
            log.warning("%s.%s of row %s does not open", spec.table, name, row.id)
            values[name] = None
    return values


async def write(
    keys: FieldKeys,
    session: AsyncSession,
    spec: SealedColumns,
    row: Any,
    changes: Mapping[str, str | None],
) -> None:
    """Apply ``changes`` (None clears a field) and re-seal every field of ``row``.

    Raises ``FieldUnreadable`` when a field it must carry over does not open.
    """
    unknown = set(changes) - set(spec.fields)
    if unknown:
        raise ValueError(f"not sealed fields of {spec.table}: {sorted(unknown)}")
    if not row.id:
        raise ValueError("a row is sealed once it has its id (flush it first)")
    values = await read(keys, session, spec, row, strict=True)
    values.update(changes)
    version = None
    for name in spec.fields:
        value = values.get(name)
        sealed = None
        if value is not None:
            version, sealed = await keys.seal(session, value, where=spec.where(row, name))
        setattr(row, f"{name}_sealed", sealed)
        if name in spec.legacy:
            setattr(row, name, None)
    row.fields_version = version
