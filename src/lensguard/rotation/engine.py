"""Move every stored secret from the old master secret to the new one, resumably.

1. **Begin** (one transaction): check the old secret opens what is stored, keep the
   hashing and audit keys wrapped under the new secret (``secret_kept_keys``), record
   the rotation as ``running`` and audit it. Nothing else changes here.
2. **Move** each kind of row (``rows.KINDS``) in batches, each batch one transaction
   that also stores how far it got. A crash loses at most the open batch; running the
   command again continues after the last batch committed.
3. **Finish**: scan every row once more; a row still under the old secret (written by
   a node that kept running on it) sends the walk round again. When none is left the
   rotation is ``done``, audited with its counts, and the old secret is needed no more.

While a rotation is ``running`` no node starts (``keyring.kept.purpose_keys``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit import AuditEvent, AuditLog
from lensguard.errors import ConfigurationError
from lensguard.keyring.kept import (
    derived_keys,
    fingerprint,
    is_secret,
    latest_rotation,
    stored_keys,
    wrap_kept,
)
from lensguard.keyring.models import KeptKey, SecretRotation
from lensguard.protect.subkeys import Purpose
from lensguard.protect.wrap import UnwrapError
from lensguard.rotation.rows import KINDS, STEP_NAMES, Kind, MasterKeys, Outcome, kind_named
from lensguard.store.db import Database
from lensguard.store.types import utcnow

DEFAULT_BATCH = 200
MAX_BATCH = 10_000
MAX_PASSES = 3
ROTATION_LOCK = 0x6C67726F  # PostgreSQL advisory lock: one rotation at a time
NOTHING_CHANGED = "nothing was changed"

Progress = Callable[[str, int], None]
"""Called with a kind's name and how many of its rows were just handled."""
RowHook = Callable[[str, int], None]
"""Called inside a batch's transaction after each row (kind, rows of the run so far)."""


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did, over every run that worked on it."""

    rotation_id: int
    moved: int
    unreadable: int
    resumed: bool
    already_done: bool = False


@dataclass(frozen=True)
class KindStatus:
    """How many rows of one kind open under a given secret."""

    name: str
    label: str
    total: int
    opening: int


@dataclass(frozen=True)
class RotationStatus:
    """Where the stored secrets stand against one secret."""

    state: str | None
    """``running``, ``done``, or None when no rotation ever ran."""
    step: str | None
    started_at: datetime | None
    finished_at: datetime | None
    is_target: bool | None
    """Whether the given secret is the one the last rotation moved to (None: none ran)."""
    kinds: tuple[KindStatus, ...]

    @property
    def left_elsewhere(self) -> int:
        """Rows that do not open under the given secret."""
        return sum(kind.total - kind.opening for kind in self.kinds)


async def _lock(session: AsyncSession) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ROTATION_LOCK})


def _audit(master: str, kept: dict[Purpose, bytes], checkpoint_every: int) -> AuditLog:
    return AuditLog.from_secret(master, keys=kept, checkpoint_every=checkpoint_every)


async def _probe_old(session: AsyncSession, old: MasterKeys) -> None:
    """Refuse an old secret that does not open the first stored row of each kind."""
    for kind in KINDS:
        rows = await kind.after(session, None, 1)
        if rows and not kind.opens(rows[0], old):
            raise ConfigurationError(
                f"the old secret does not open the stored {kind.label}; {NOTHING_CHANGED}"
            )


class Rotation:
    """One run of ``lensguard secret rotate`` from ``old`` to ``new``."""

    def __init__(
        self,
        db: Database,
        *,
        old: str,
        new: str,
        checkpoint_every: int = 1000,
        batch: int = DEFAULT_BATCH,
        progress: Progress | None = None,
        on_row: RowHook | None = None,
    ) -> None:
        if not 1 <= batch <= MAX_BATCH:
            raise ValueError(f"batch must be between 1 and {MAX_BATCH}")
        if is_secret(new, fingerprint(old)):
            raise ConfigurationError(f"the new secret is the old one; {NOTHING_CHANGED}")
        self.db = db
        self.old = MasterKeys(old)
        self.new = MasterKeys(new)
        self.checkpoint_every = checkpoint_every
        self.batch = batch
        self.progress = progress
        self.on_row = on_row
        self._handled = 0

    async def run(self) -> RotationReport:
        """Begin or resume the rotation and take it to ``done``."""
        rotation_id, resumed, done = await self._begin()
        if done:
            return RotationReport(rotation_id, 0, 0, resumed=False, already_done=True)
        for _ in range(MAX_PASSES):
            await self._move_all(rotation_id)
            if await self._left_under_old() == 0:
                return await self._finish(rotation_id, resumed)
            await self._restart(rotation_id)
        raise ConfigurationError(
            "rows under the old secret keep appearing: stop every node still running "
            "on the old secret, then run the rotation again"
        )

    async def _begin(self) -> tuple[int, bool, bool]:
        old, new = self.old.master, self.new.master
        async with self.db.transaction() as session:
            await _lock(session)
            last = await latest_rotation(session)
            if last is not None and last.state == "running":
                if not (
                    is_secret(old, last.old_fingerprint) and is_secret(new, last.new_fingerprint)
                ):
                    raise ConfigurationError(
                        "an unfinished rotation moves between two other secrets: give the "
                        f"old and the new secret it was started with; {NOTHING_CHANGED}"
                    )
                return last.id, True, False
            if last is not None and is_secret(new, last.new_fingerprint):
                return last.id, False, True
            if last is not None and not is_secret(old, last.new_fingerprint):
                raise ConfigurationError(
                    "the old secret is not the one the stored secrets were last rotated to; "
                    + NOTHING_CHANGED
                )
            try:
                kept = await stored_keys(session, old)
            except UnwrapError:
                raise ConfigurationError(
                    f"the old secret does not open the stored purpose keys; {NOTHING_CHANGED}"
                ) from None
            await _probe_old(session, self.old)
            kept = kept or derived_keys(old)
            await session.execute(delete(KeptKey))
            session.add_all(
                KeptKey(purpose=p.value, wrapped=wrap_kept(new, p, key)) for p, key in kept.items()
            )
            rotation = SecretRotation(
                old_fingerprint=fingerprint(old),
                new_fingerprint=fingerprint(new),
                state="running",
                step=STEP_NAMES[0],
                cursor=None,
                moved=0,
                unreadable=0,
                started_at=utcnow(),
            )
            session.add(rotation)
            await session.flush()
            await _audit(old, kept, self.checkpoint_every).append(
                session, self._event("secret.rotation_started", rotation.id, {})
            )
            return rotation.id, False, False

    def _event(self, action: str, rotation_id: int, details: dict[str, Any]) -> AuditEvent:
        return AuditEvent(
            action=action,
            outcome="success",
            actor_type="system",
            resource_type="secret_rotation",
            resource_id=str(rotation_id),
            details={"via": "cli", **details},
        )

    async def _move_all(self, rotation_id: int) -> None:
        while True:
            async with self.db.transaction() as session:
                # Locked: a second run of the command waits instead of moving the same rows.
                rotation = await session.get(SecretRotation, rotation_id, with_for_update=True)
                assert rotation is not None
                if rotation.step is None:
                    return
                kind = kind_named(rotation.step)
                handled = await self._batch(session, rotation, kind)
            if self.progress is not None and handled:
                self.progress(kind.name, handled)

    async def _batch(self, session: AsyncSession, rotation: SecretRotation, kind: Kind) -> int:
        rows = await kind.after(session, rotation.cursor, self.batch)
        if not rows:
            following = STEP_NAMES.index(kind.name) + 1
            rotation.step = STEP_NAMES[following] if following < len(STEP_NAMES) else None
            rotation.cursor = None
            return 0
        for row in rows:
            outcome = kind.move(row, self.old, self.new)
            rotation.moved += outcome is Outcome.MOVED
            rotation.unreadable += outcome is Outcome.UNREADABLE
            self._handled += 1
            if self.on_row is not None:
                self.on_row(kind.name, self._handled)
        rotation.cursor = kind.key(rows[-1])
        return len(rows)

    async def _left_under_old(self) -> int:
        left = 0
        for kind in KINDS:
            async for row in _walk(self.db, kind, self.batch):
                if not kind.opens(row, self.new) and kind.opens(row, self.old):
                    left += 1
        return left

    async def _restart(self, rotation_id: int) -> None:
        async with self.db.transaction() as session:
            rotation = await session.get(SecretRotation, rotation_id)
            assert rotation is not None
            rotation.step, rotation.cursor = STEP_NAMES[0], None

    async def _finish(self, rotation_id: int, resumed: bool) -> RotationReport:
        async with self.db.transaction() as session:
            rotation = await session.get(SecretRotation, rotation_id)
            assert rotation is not None
            rotation.state, rotation.step, rotation.cursor = "done", None, None
            rotation.finished_at = utcnow()
            kept = await stored_keys(session, self.new.master)
            assert kept is not None  # stored when the rotation began
            details = {"moved": rotation.moved, "unreadable": rotation.unreadable}
            await _audit(self.new.master, kept, self.checkpoint_every).append(
                session, self._event("secret.rotation_finished", rotation_id, details)
            )
            return RotationReport(rotation_id, rotation.moved, rotation.unreadable, resumed)


async def _walk(db: Database, kind: Kind, batch: int) -> Any:
    """Every row of ``kind``, read in short transactions of ``batch`` rows."""
    cursor: str | None = None
    while True:
        async with db.sessions() as session:
            rows = await kind.after(session, cursor, batch)
        if not rows:
            return
        for row in rows:
            yield row
        cursor = kind.key(rows[-1])


async def count_rows(db: Database) -> dict[str, int]:
    """How many rows of each kind a rotation walks (for a progress bar)."""
    async with db.sessions() as session:
        return {kind.name: await kind.count(session) for kind in KINDS}


async def rotation_status(db: Database, master: str, *, batch: int = 1000) -> RotationStatus:
    """The last rotation and how many stored rows of each kind open under ``master``."""
    async with db.sessions() as session:
        last = await latest_rotation(session)
    keys = MasterKeys(master)
    kinds = []
    for kind in KINDS:
        total = opening = 0
        async for row in _walk(db, kind, batch):
            total += 1
            opening += kind.opens(row, keys)
        kinds.append(KindStatus(kind.name, kind.label, total, opening))
    return RotationStatus(
        state=None if last is None else last.state,
        step=None if last is None else last.step,
        started_at=None if last is None else last.started_at,
        finished_at=None if last is None else last.finished_at,
        is_target=None if last is None else is_secret(master, last.new_fingerprint),
        kinds=tuple(kinds),
    )
