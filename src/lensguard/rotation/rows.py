"""The kinds of stored rows a rotation moves, and how each is re-wrapped.

Every kind is walked in primary-key order, so a rotation remembers how far it got as
one value (the last key moved). Re-wrapping a row first tries the new secret: a row
already under it is left alone, which makes every step safe to repeat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit import subject_keys
from lensguard.audit.models import AuditSubjectKey
from lensguard.identity import signing_keys, totp
from lensguard.incidents.models import IncidentAttachment
from lensguard.keyring import fields
from lensguard.keyring.models import FieldKey
from lensguard.protect.subkeys import Purpose, derive
from lensguard.protect.wrap import UnwrapError, unwrap, wrap
from lensguard.recordings import evidence_keys
from lensguard.recordings.export_models import EvidenceKey, RecordingExport
from lensguard.recordings.index import wrapped_key
from lensguard.recordings.keys import KeyRing, KeyUnavailable, WrappedKey
from lensguard.recordings.models import RecordingSegment
from lensguard.store.models import SigningKey, User


class Outcome(StrEnum):
    """What re-wrapping one row did."""

    MOVED = "moved"
    ALREADY = "already"
    """It was under the new secret already (a resumed or repeated run)."""
    UNREADABLE = "unreadable"
    """It opens under neither secret (altered or foreign); left as it is."""


@dataclass
class MasterKeys:
    """The keys one master secret gives the stored rows: the wrap key and the KEKs."""

    master: str = field(repr=False)
    wrap_key: bytes = field(init=False, repr=False)
    _rings: dict[tuple[int, str], KeyRing] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.wrap_key = derive(self.master, Purpose.WRAP)

    def ring(self, version: int, stream: str = "processed") -> KeyRing:
        """A key ring holding KEK ``version`` of this secret (raw video has KEKs of its own)."""
        ring = self._rings.get((version, stream))
        if ring is None:
            purpose = Purpose.RECORDING_RAW_KEK if stream == "raw" else Purpose.RECORDING_KEK
            ring = self._rings[(version, stream)] = KeyRing.from_secret(
                self.master, versions=(version,), purpose=purpose
            )
        return ring


def _opens(key: bytes, wrapped: bytes, aad: bytes) -> bytes | None:
    try:
        return unwrap(key, wrapped, aad=aad)
    except UnwrapError:
        return None


def rewrap_blob(wrapped: bytes, aad: bytes, old: bytes, new: bytes) -> tuple[Outcome, bytes]:
    """``wrapped`` moved from the ``old`` wrap key to the ``new`` one."""
    if _opens(new, wrapped, aad) is not None:
        return Outcome.ALREADY, wrapped
    plain = _opens(old, wrapped, aad)
    if plain is None:
        return Outcome.UNREADABLE, wrapped
    return Outcome.MOVED, wrap(new, plain, aad=aad)


def _worst(outcomes: Sequence[Outcome]) -> Outcome:
    for outcome in (Outcome.UNREADABLE, Outcome.MOVED):
        if outcome in outcomes:
            return outcome
    return Outcome.ALREADY


async def _count(session: AsyncSession, entity: Any, *where: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(entity).where(*where)
    return int((await session.execute(query)).scalar_one())


# -- signing keys


async def _signing_after(session: AsyncSession, cursor: str | None, limit: int) -> Sequence[Any]:
    query = select(SigningKey).order_by(SigningKey.kid).limit(limit)
    if cursor is not None:
        query = query.where(SigningKey.kid > cursor)
    return (await session.execute(query)).scalars().all()


async def _signing_count(session: AsyncSession) -> int:
    return await _count(session, SigningKey)


def _signing_move(row: Any, old: MasterKeys, new: MasterKeys) -> Outcome:
    outcome, row.private_key_wrapped = rewrap_blob(
        row.private_key_wrapped, signing_keys.wrap_aad(row.kid), old.wrap_key, new.wrap_key
    )
    return outcome


def _signing_opens(row: Any, keys: MasterKeys) -> bool:
    aad = signing_keys.wrap_aad(row.kid)
    return _opens(keys.wrap_key, row.private_key_wrapped, aad) is not None


# -- TOTP seeds (confirmed and pending)


async def _totp_after(session: AsyncSession, cursor: str | None, limit: int) -> Sequence[Any]:
    query = (
        select(User)
        .where(or_(User.totp_secret.is_not(None), User.totp_pending.is_not(None)))
        .order_by(User.id)
        .limit(limit)
    )
    if cursor is not None:
        query = query.where(User.id > cursor)
    return (await session.execute(query)).scalars().all()


async def _totp_count(session: AsyncSession) -> int:
    return await _count(
        session, User, or_(User.totp_secret.is_not(None), User.totp_pending.is_not(None))
    )


def _totp_move(row: Any, old: MasterKeys, new: MasterKeys) -> Outcome:
    aad = totp.wrap_aad(row.id)
    outcomes = []
    for column in ("totp_secret", "totp_pending"):
        value = getattr(row, column)
        if value is not None:
            outcome, moved = rewrap_blob(value, aad, old.wrap_key, new.wrap_key)
            if outcome is Outcome.MOVED:
                setattr(row, column, moved)
            outcomes.append(outcome)
    return _worst(outcomes)


def _totp_opens(row: Any, keys: MasterKeys) -> bool:
    aad = totp.wrap_aad(row.id)
    values = [v for v in (row.totp_secret, row.totp_pending) if v is not None]
    return all(_opens(keys.wrap_key, value, aad) is not None for value in values)


# -- recording data keys (the video itself is never touched)


async def _segments_after(session: AsyncSession, cursor: str | None, limit: int) -> Sequence[Any]:
    query = (
        select(RecordingSegment)
        .where(RecordingSegment.wrapped_key.is_not(None))
        .order_by(RecordingSegment.id)
        .limit(limit)
    )
    if cursor is not None:
        query = query.where(RecordingSegment.id > cursor)
    return (await session.execute(query)).scalars().all()


async def _segments_count(session: AsyncSession) -> int:
    return await _count(session, RecordingSegment, RecordingSegment.wrapped_key.is_not(None))


def _data_key(row: Any, keys: MasterKeys) -> bytes | None:
    try:
        return keys.ring(row.kek_version, row.stream).unwrap(wrapped_key(row))
    except (KeyUnavailable, ValueError):
        return None


def _segment_move(row: Any, old: MasterKeys, new: MasterKeys) -> Outcome:
    if _data_key(row, new) is not None:
        return Outcome.ALREADY
    key = _data_key(row, old)
    if key is None:
        return Outcome.UNREADABLE
    row.wrapped_key = new.ring(row.kek_version, row.stream).wrap(row.key_id, key).wrapped
    return Outcome.MOVED


def _segment_opens(row: Any, keys: MasterKeys) -> bool:
    return _data_key(row, keys) is not None


# -- evidence signing keys and evidence bundles' data keys


async def _evidence_after(session: AsyncSession, cursor: str | None, limit: int) -> Sequence[Any]:
    query = select(EvidenceKey).order_by(EvidenceKey.kid).limit(limit)
    if cursor is not None:
        query = query.where(EvidenceKey.kid > cursor)
    return (await session.execute(query)).scalars().all()


async def _evidence_count(session: AsyncSession) -> int:
    return await _count(session, EvidenceKey)


def _evidence_move(row: Any, old: MasterKeys, new: MasterKeys) -> Outcome:
    outcome, row.private_key_wrapped = rewrap_blob(
        row.private_key_wrapped, evidence_keys.wrap_aad(row.kid), old.wrap_key, new.wrap_key
    )
    return outcome


def _evidence_opens(row: Any, keys: MasterKeys) -> bool:
    aad = evidence_keys.wrap_aad(row.kid)
    return _opens(keys.wrap_key, row.private_key_wrapped, aad) is not None


async def _exports_after(session: AsyncSession, cursor: str | None, limit: int) -> Sequence[Any]:
    query = (
        select(RecordingExport)
        .where(RecordingExport.wrapped_key.is_not(None))
        .order_by(RecordingExport.id)
        .limit(limit)
    )
    if cursor is not None:
        query = query.where(RecordingExport.id > cursor)
    return (await session.execute(query)).scalars().all()


async def _exports_count(session: AsyncSession) -> int:
    return await _count(session, RecordingExport, RecordingExport.wrapped_key.is_not(None))


async def _attachments_after(
    session: AsyncSession, cursor: str | None, limit: int
) -> Sequence[Any]:
    query = select(IncidentAttachment).order_by(IncidentAttachment.id).limit(limit)
    if cursor is not None:
        query = query.where(IncidentAttachment.id > cursor)
    return (await session.execute(query)).scalars().all()


async def _attachments_count(session: AsyncSession) -> int:
    return await _count(session, IncidentAttachment)


def _export_key(row: Any, keys: MasterKeys) -> bytes | None:
    """The data key of an evidence bundle or an incident attachment, or None."""
    if row.wrapped_key is None:
        return None
    try:
        wrapped = WrappedKey(row.key_id, row.kek_version, row.wrapped_key)
        return keys.ring(row.kek_version, row.stream).unwrap(wrapped)
    except (KeyUnavailable, ValueError):
        return None


def _export_move(row: Any, old: MasterKeys, new: MasterKeys) -> Outcome:
    if _export_key(row, new) is not None:
        return Outcome.ALREADY
    key = _export_key(row, old)
    if key is None:
        return Outcome.UNREADABLE
    row.wrapped_key = new.ring(row.kek_version, row.stream).wrap(row.key_id, key).wrapped
    return Outcome.MOVED


def _export_opens(row: Any, keys: MasterKeys) -> bool:
    return _export_key(row, keys) is not None


# -- field keys (personal-field data keys and the blind-index key; retired ones are empty)


def _field_key_name(row: Any) -> str:
    return f"{row.purpose}/{row.version:010d}"


async def _field_keys_after(session: AsyncSession, cursor: str | None, limit: int) -> Sequence[Any]:
    query = (
        select(FieldKey)
        .where(FieldKey.wrapped.is_not(None))
        .order_by(FieldKey.purpose, FieldKey.version)
        .limit(limit)
    )
    if cursor is not None:
        purpose, version = cursor.split("/")
        query = query.where(
            or_(
                FieldKey.purpose > purpose,
                (FieldKey.purpose == purpose) & (FieldKey.version > int(version)),
            )
        )
    return (await session.execute(query)).scalars().all()


async def _field_keys_count(session: AsyncSession) -> int:
    return await _count(session, FieldKey, FieldKey.wrapped.is_not(None))


def _field_key_move(row: Any, old: MasterKeys, new: MasterKeys) -> Outcome:
    aad = fields.key_aad(row.purpose, row.version)
    outcome, row.wrapped = rewrap_blob(row.wrapped, aad, old.wrap_key, new.wrap_key)
    return outcome


def _field_key_opens(row: Any, keys: MasterKeys) -> bool:
    return _opens(keys.wrap_key, row.wrapped, fields.key_aad(row.purpose, row.version)) is not None


# -- audit subject keys (the sealed audit fields themselves are never touched)


async def _subjects_after(session: AsyncSession, cursor: str | None, limit: int) -> Sequence[Any]:
    query = select(AuditSubjectKey).order_by(AuditSubjectKey.subject).limit(limit)
    if cursor is not None:
        query = query.where(AuditSubjectKey.subject > cursor)
    return (await session.execute(query)).scalars().all()


async def _subjects_count(session: AsyncSession) -> int:
    return await _count(session, AuditSubjectKey)


def _subject_move(row: Any, old: MasterKeys, new: MasterKeys) -> Outcome:
    outcome, row.wrapped = rewrap_blob(
        row.wrapped, subject_keys.wrap_aad(row.subject), old.wrap_key, new.wrap_key
    )
    return outcome


def _subject_opens(row: Any, keys: MasterKeys) -> bool:
    aad = subject_keys.wrap_aad(row.subject)
    return _opens(keys.wrap_key, row.wrapped, aad) is not None


@dataclass(frozen=True)
class Kind:
    """One kind of stored row a rotation moves."""

    name: str
    """Stored in ``secret_rotations.step``; never renamed."""
    label: str
    count: Callable[[AsyncSession], Awaitable[int]]
    after: Callable[[AsyncSession, str | None, int], Awaitable[Sequence[Any]]]
    key: Callable[[Any], str]
    move: Callable[[Any, MasterKeys, MasterKeys], Outcome]
    opens: Callable[[Any, MasterKeys], bool]


KINDS: tuple[Kind, ...] = (
    Kind(
        "signing_keys",
        "token-signing keys",
        _signing_count,
        _signing_after,
        lambda row: str(row.kid),
        _signing_move,
        _signing_opens,
    ),
    Kind(
        "totp",
        "TOTP seeds",
        _totp_count,
        _totp_after,
        lambda row: str(row.id),
        _totp_move,
        _totp_opens,
    ),
    Kind(
        "recording_keys",
        "recording data keys",
        _segments_count,
        _segments_after,
        lambda row: str(row.id),
        _segment_move,
        _segment_opens,
    ),
    Kind(
        "evidence_keys",
        "evidence signing keys",
        _evidence_count,
        _evidence_after,
        lambda row: str(row.kid),
        _evidence_move,
        _evidence_opens,
    ),
    Kind(
        "evidence_bundles",
        "evidence bundle keys",
        _exports_count,
        _exports_after,
        lambda row: str(row.id),
        _export_move,
        _export_opens,
    ),
    Kind(
        "field_keys",
        "personal-field keys",
        _field_keys_count,
        _field_keys_after,
        _field_key_name,
        _field_key_move,
        _field_key_opens,
    ),
    Kind(
        "audit_subject_keys",
        "audit subject keys",
        _subjects_count,
        _subjects_after,
        lambda row: str(row.subject),
        _subject_move,
        _subject_opens,
    ),
    Kind(
        "incident_attachments",
        "incident attachment keys",
        _attachments_count,
        _attachments_after,
        lambda row: str(row.id),
        _export_move,
        _export_opens,
    ),
)
STEP_NAMES = tuple(kind.name for kind in KINDS)


def kind_named(name: str) -> Kind:
    """The kind stored as ``name``; ValueError for one this version does not know."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise ValueError(f"unknown rotation step {name!r}")
