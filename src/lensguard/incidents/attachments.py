"""Evidence files of an incident: checked by content, stored encrypted, audited both ways.

``add`` checks the file (``attachment_types.check``), encrypts it under a fresh data key
of the recording vault's ring (the chunked AES-256-GCM of ``recordings.crypto``) and puts
it in the segment store under ``incident-<attachment id>``; then, in one transaction, it
writes the row (the wrapped data key, the SHA-256, the size, the name sealed as a
personal field) and an ``attachment`` entry in the timeline, which is also the
``incident.attachment`` audit entry carrying the digest (not the name). Only after that
commit is the upload answered, so an acknowledged file is kept; if the transaction
fails, the stored object is deleted again.

``read`` decrypts the content and checks it against the digest in its row: a file
altered, cut or swapped in the store is refused (``AttachmentTampered``), never served.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import Conflict
from lensguard.incidents.attachment_types import EvidenceType, check, clean_name
from lensguard.incidents.book import Actor, IncidentBook, acknowledge
from lensguard.incidents.models import ATTACHMENT_NAMES, IncidentAttachment
from lensguard.keyring import sealed
from lensguard.keyring.fields import FieldKeys
from lensguard.recordings.crypto import SegmentIntegrityError, decrypt, encrypt
from lensguard.recordings.keys import KeyUnavailable, WrappedKey
from lensguard.recordings.store import SegmentNotFound
from lensguard.recordings.vault import RecordingVault
from lensguard.store.models import new_id

STORE_PREFIX = "incident-"


class AttachmentTampered(SegmentIntegrityError):
    """The stored file does not open, or differs from the digest audited when it was added."""


@dataclass(frozen=True)
class Kept:
    """A kept attachment and its name, opened (None when its seal does not open)."""

    row: IncidentAttachment
    name: str | None


@dataclass(frozen=True)
class Upload:
    """A checked file about to be kept."""

    name: str
    kind: EvidenceType
    content: bytes

    @classmethod
    def checked(cls, name: str, content: bytes, declared: str = "") -> Upload:
        """``content`` named ``name`` once its name and type passed; AttachmentRefused."""
        clean = clean_name(name)
        return cls(clean, check(content, clean, declared), content)


def store_key(attachment_id: str) -> str:
    """Where the attachment's ciphertext lives in the segment store."""
    return STORE_PREFIX + attachment_id


@dataclass
class Attachments:
    """An incident book's evidence files, in a recording vault's store and keys."""

    book: IncidentBook
    vault: RecordingVault
    fields: FieldKeys
    """The personal-field keys the file names are sealed under."""
    per_incident: int = 100

    async def add(self, incident_id: str, upload: Upload, *, at: datetime, actor: Actor) -> Kept:
        """Keep ``upload`` with the incident; Conflict when it holds ``per_incident`` already,
        NotFound when there is no such incident."""
        await self.book.get(incident_id)
        data_key, wrapped = self.vault.ring.new_data_key()
        row = IncidentAttachment(
            id=new_id(),
            incident_id=incident_id,
            media_type=upload.kind.media_type,
            size=len(upload.content),
            sha256=hashlib.sha256(upload.content).hexdigest(),
            key_id=wrapped.key_id,
            kek_version=wrapped.kek_version,
            wrapped_key=wrapped.wrapped,
            added_by=actor.id,
            added_at=at,
        )
        sealed = await asyncio.to_thread(encrypt, data_key, wrapped.key_id, upload.content)
        await self.vault.store.put(store_key(row.id), sealed)
        try:
            await self._record(row, upload.name, actor)
        except BaseException:
            await self.vault.store.delete(store_key(row.id))
            raise
        return Kept(row, upload.name)

    async def _record(self, row: IncidentAttachment, name: str, actor: Actor) -> None:
        book = self.book
        async with book.db.transaction() as session:
            incident = await book.locked(session, row.incident_id)
            held = await session.scalar(
                select(func.count(IncidentAttachment.id)).where(
                    IncidentAttachment.incident_id == row.incident_id
                )
            )
            if int(held or 0) >= self.per_incident:
                raise Conflict(
                    f"the incident holds {self.per_incident} attachments already: put further "
                    "files in a ZIP archive"
                )
            await sealed.write(self.fields, session, ATTACHMENT_NAMES, row, {"name": name})
            session.add(row)
            acknowledge(incident, row.added_at, actor)
            body = {  # the name is personal: sealed in the row, not repeated here
                "attachment_id": row.id,
                "media_type": row.media_type,
                "size": row.size,
                "sha256": row.sha256,
            }
            await book.write_entry(
                session, incident, "attachment", at=row.added_at, actor=actor, body=body
            )

    async def _named(self, session: AsyncSession, row: IncidentAttachment) -> Kept:
        opened = await sealed.read(self.fields, session, ATTACHMENT_NAMES, row)
        return Kept(row, opened["name"])

    async def listed(self, incident_id: str) -> list[Kept]:
        """The incident's attachments, oldest first; NotFound when there is no such incident."""
        await self.book.get(incident_id)
        async with self.book.db.sessions() as session:
            rows = await session.execute(
                select(IncidentAttachment)
                .where(IncidentAttachment.incident_id == incident_id)
                .order_by(IncidentAttachment.added_at, IncidentAttachment.id)
            )
            return [await self._named(session, row) for row in rows.scalars()]

    async def get(self, incident_id: str, attachment_id: str) -> Kept | None:
        """The attachment, or None when the incident holds none of that id."""
        async with self.book.db.sessions() as session:
            row = await session.get(IncidentAttachment, attachment_id)
            if row is None or row.incident_id != incident_id:
                return None
            return await self._named(session, row)

    async def read(self, row: IncidentAttachment) -> bytes:
        """The file as it was added, or AttachmentTampered."""
        try:
            stored = await self.vault.store.get(store_key(row.id))
        except SegmentNotFound:
            raise AttachmentTampered(f"attachment {row.id} is missing from the store") from None
        try:
            key = self.vault.ring.unwrap(WrappedKey(row.key_id, row.kek_version, row.wrapped_key))
            content = await asyncio.to_thread(decrypt, key, stored)
        except (KeyUnavailable, SegmentIntegrityError) as exc:
            raise AttachmentTampered(f"attachment {row.id} does not open: {exc}") from None
        if len(content) != row.size or not hmac.compare_digest(
            hashlib.sha256(content).hexdigest(), row.sha256
        ):
            raise AttachmentTampered(f"attachment {row.id} differs from its record")
        return content
