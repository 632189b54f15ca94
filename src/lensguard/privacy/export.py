"""Subject access export (GDPR Art. 15 and 20): everything kept about one person, as a zip.

``write_export`` finds the account by id or username and writes, into a zip file:

- ``manifest.json``: the schema (``SCHEMA``), the subject, when and by whom, and per
  file its rows, bytes and SHA-256, and the columns withheld;
- ``tables/<table>.jsonl``: one JSON object per row of each table that names the person
  (``LINKS``: their account, sessions, recovery-code and API-key metadata, what they
  watched, started, exported, granted or held, break-glass, incidents they own or acted
  on);
- ``audit.jsonl``: the audit entries they made (by their keyed pseudonym, so entries
  made before a name change are found) and the ones about their account.

Columns classified ``sensitive`` (password, key and token hashes, wrapped keys) are
withheld and named in the manifest: they are security material, not information about
the person. Rows are read in batches (``BATCH``) and compressed on a worker thread, so
memory stays bounded however many rows there are; the content is bounded by
``max_bytes`` and a larger export stops with ``ExportTooLarge`` naming the bound (the
partial file is removed). The schema is documented in docs/privacy.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import zipfile
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

import lensguard.incidents.models
import lensguard.recordings.access_models
import lensguard.recordings.export_models
import lensguard.recordings.hold_models
import lensguard.recordings.models  # noqa: F401 - every table on Base, for LINKS
from lensguard.audit import AuditLog
from lensguard.audit.models import AuditEntry
from lensguard.audit.seal import Opener
from lensguard.errors import Conflict, NotFound
from lensguard.keyring import sealed
from lensguard.keyring.fields import FieldKeys
from lensguard.keyring.sealed import sealed_spec
from lensguard.privacy.classes import DataClass
from lensguard.privacy.registry import REGISTRY
from lensguard.store.db import Database
from lensguard.store.models import Base, User

SCHEMA = "lensguard-subject-export/1"
BATCH = 1_000
LINKS: dict[str, tuple[str, ...]] = {
    "users": ("id",),
    "login_sessions": ("user_id",),
    "recovery_codes": ("user_id",),
    "api_keys": ("owner_user_id",),
    "site_retention": ("updated_by",),
    "redaction_overrides": ("user_id",),
    "recording_demands": ("user_id",),
    "recording_playbacks": ("viewer_id",),
    "recording_grants": ("user_id", "created_by"),
    "recording_exports": ("created_by",),
    "legal_holds": ("created_by", "released_by"),
    "incidents": ("owner_id", "opened_by", "principal"),
    "incident_entries": ("actor",),
    "incident_attachments": ("added_by",),
}
"""Which columns of which table name a person (by users.id; ``incidents.principal``
may hold the username instead)."""
AUDIT_FILE = "audit.jsonl"
_JSON_TEXT = {("incident_entries", "body"), ("audit_log", "details")}


class ExportTooLarge(Conflict):
    """The subject's data is over the export bound (409, naming the bound)."""


@dataclass
class FileStats:
    """One file of the export: its rows, bytes (uncompressed) and SHA-256."""

    name: str
    rows: int = 0
    bytes: int = 0
    digest: Any = field(default_factory=hashlib.sha256, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "bytes": self.bytes,
            "sha256": self.digest.hexdigest(),
        }


@dataclass(frozen=True)
class ExportResult:
    """What was written: the subject, the manifest, and the zip's size and SHA-256."""

    user_id: str
    username: str
    manifest: dict[str, Any]
    size: int
    sha256: str


Progress = Callable[[str, int], None]
"""Called with a file name and the rows just written to it (for a progress bar)."""


def _value(table: str, column: str, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if (table, column) in _JSON_TEXT and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def shown_columns(table: str) -> tuple[list[str], list[str]]:
    """(columns exported, columns withheld as sensitive) of ``table``, in schema order."""
    classes = REGISTRY[table].columns
    names = [c.name for c in Base.metadata.tables[table].columns]
    withheld = [n for n in names if classes[n].cls is DataClass.SENSITIVE]
    return [n for n in names if n not in withheld], withheld


class _Writer:
    """Appends JSON lines to zip members and keeps the content under the bound."""

    def __init__(self, archive: zipfile.ZipFile, max_bytes: int) -> None:
        self.archive = archive
        self.max_bytes = max_bytes
        self.total = 0

    def write(self, stats: FileStats, rows: list[dict[str, Any]], member: Any) -> None:
        for row in rows:
            line = (json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
            self.total += len(line)
            if self.total > self.max_bytes:
                raise ExportTooLarge(
                    f"this subject's data is over the export bound of {self.max_bytes} bytes "
                    "(privacy.export_max_bytes)"
                )
            member.write(line)
            stats.digest.update(line)
            stats.bytes += len(line)
            stats.rows += 1


async def find_subject(db: Database, who: str) -> User:
    """The account ``who`` names (its id, or its username); NotFound otherwise."""
    async with db.sessions() as session:
        user = await session.get(User, who)
        if user is None:
            user = await session.scalar(select(User).where(User.username == who.lower()))
    if user is None:
        raise NotFound("no such account")
    return user


def _subject_filter(name: str, table: Table, user: User) -> ColumnElement[bool]:
    clauses = [table.c[column] == user.id for column in LINKS[name]]
    if name == "incidents":
        clauses.append(table.c.principal == user.username)
    return or_(*clauses)


def _own_refs(audit: AuditLog, user: User) -> frozenset[str]:
    """The person's audit pseudonyms: as a user and through their API keys."""
    refs = (audit.actor_ref(kind, user.id) for kind in ("user", "api_key"))
    return frozenset(ref for ref in refs if ref is not None)


def _audit_filter(audit: AuditLog, user: User) -> ColumnElement[bool]:
    return or_(
        AuditEntry.actor_ref.in_(sorted(_own_refs(audit, user))),
        (AuditEntry.resource_type == "user") & (AuditEntry.resource_id == user.id),
    )


async def _batches(
    db: Database, table: Table, where: ColumnElement[bool], order: list[Any]
) -> AsyncGenerator[tuple[AsyncSession, list[Any]], None]:
    """Batches of rows, with the one session they stream on (SQLite has one writer)."""
    async with db.sessions() as session:
        result = await session.stream(
            select(table).where(where).order_by(*order).execution_options(yield_per=BATCH)
        )
        async for partition in result.mappings().partitions(BATCH):
            yield session, list(partition)


async def _opened(
    session: AsyncSession, fields: FieldKeys, name: str, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``rows`` with their sealed personal fields in clear, under the fields' own names."""
    spec = sealed_spec(name)
    if spec is None:
        return rows
    for row in rows:
        values = await sealed.read(fields, session, spec, SimpleNamespace(**row))
        for column in spec.fields:
            row.pop(f"{column}_sealed", None)
        row.pop("email_index", None)  # a keyed hash of the address shown beside it
        row.update(values)
    return rows


async def _copy(
    db: Database,
    writer: _Writer,
    *,
    name: str,
    member_name: str,
    where: ColumnElement[bool],
    progress: Progress | None,
    fields: FieldKeys,
    opener: Opener | None = None,
    own: frozenset[str] = frozenset(),
) -> FileStats:
    table = Base.metadata.tables[name]
    shown, _ = shown_columns(name)
    stats = FileStats(member_name)
    order = [c for c in table.primary_key.columns]
    member = writer.archive.open(member_name, "w", force_zip64=True)
    try:
        # aclosing: a batch over the bound stops the loop mid-stream; the generator must
        # still close its database session then, not whenever it is collected.
        async with contextlib.aclosing(_batches(db, table, where, order)) as batches:
            async for session, batch in batches:
                picked = [{c: row[c] for c in shown} for row in batch]
                plain = await _opened(session, fields, name, picked)
                rows = [{c: _value(name, c, v) for c, v in row.items()} for row in plain]
                if opener is not None:
                    _open_personal(opener, batch, rows, own)
                await asyncio.to_thread(writer.write, stats, rows, member)
                if progress is not None:
                    progress(member_name, len(rows))
    finally:
        await asyncio.to_thread(member.close)
    return stats


async def _audit_opener(
    db: Database, audit: AuditLog, where: ColumnElement[bool], own: frozenset[str]
) -> Opener | None:
    """An opener holding the keys of every actor whose sealed entries the export reads,
    and the person's own (``own``) for the details sealed about them.

    Loaded before the rows are streamed: the stream holds its connection meanwhile.
    """
    opener = audit.opener()
    if opener is None:
        return None
    sealed = AuditEntry.actor_name_sealed.is_not(None) | AuditEntry.source_address_sealed.is_not(
        None
    )
    async with db.sessions() as session:
        refs = await session.scalars(select(AuditEntry.actor_ref).where(where, sealed).distinct())
        await opener.load(session, [*refs, *own])
    return opener


def _open_personal(
    opener: Opener, batch: list[Any], rows: list[dict[str, Any]], own: frozenset[str]
) -> None:
    """Audit rows with their sealed name and address opened (None once shredded), and the
    personal details put back where they are the person's own (not another's they named)."""
    for source, row in zip(batch, rows, strict=True):
        row["actor_name"], row["source_address"] = opener.personal_of(source)
        if source["details_ref"] in own:
            row["details"] = opener.details_of(source)
        # Opened above: the ciphertext says nothing more.
        for column in ("actor_name_sealed", "source_address_sealed", "details_sealed"):
            row.pop(column, None)


async def write_export(
    db: Database,
    audit: AuditLog,
    who: str,
    path: Path,
    *,
    max_bytes: int,
    requested_by: str | None,
    now: datetime,
    fields: FieldKeys,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the subject export of ``who`` to ``path``; see the module docstring."""
    files: list[FileStats] = []
    try:
        user = await find_subject(db, who)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            writer = _Writer(archive, max_bytes)
            for name in LINKS:
                table = Base.metadata.tables[name]
                where = _subject_filter(name, table, user)
                member = f"tables/{name}.jsonl"
                files.append(
                    await _copy(
                        db,
                        writer,
                        name=name,
                        member_name=member,
                        where=where,
                        progress=progress,
                        fields=fields,
                    )
                )
            own = _own_refs(audit, user)
            about = _audit_filter(audit, user)
            files.append(
                await _copy(
                    db,
                    writer,
                    name="audit_log",
                    member_name=AUDIT_FILE,
                    where=about,
                    progress=progress,
                    fields=fields,
                    opener=await _audit_opener(db, audit, about, own),
                    own=own,
                )
            )
            manifest = _manifest(user, files, requested_by=requested_by, now=now)
            text = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
            archive.writestr("manifest.json", text)
    except BaseException:
        _remove(path)
        raise
    size, digest = await asyncio.to_thread(_measure, path)
    return ExportResult(user.id, user.username, manifest, size, digest)


def _manifest(
    user: User, files: list[FileStats], *, requested_by: str | None, now: datetime
) -> dict[str, Any]:
    hidden = {name: shown_columns(name)[1] for name in (*LINKS, "audit_log")}
    withheld: Mapping[str, list[str]] = {name: cols for name, cols in hidden.items() if cols}
    return {
        "schema": SCHEMA,
        "subject": {"id": user.id, "username": user.username},
        "generated_at": now.isoformat(),
        "requested_by": requested_by,
        "files": [f.as_dict() for f in files],
        "withheld": dict(withheld),
        "withheld_why": "security material (hashes, wrapped keys), not information about you",
    }


def _measure(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
