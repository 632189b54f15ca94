"""``AuditLog``: append chained entries inside the caller's transaction, checkpoint, erase.

Appending locks the head row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite every
transaction already begins with ``BEGIN IMMEDIATE``), so nodes sharing a database
allocate gap-free sequence numbers. The lock is held until the caller commits: append
as late in the transaction as possible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit import chain, subject_keys
from lensguard.audit.checkpoint import Checkpoint, key_id, sign_checkpoint
from lensguard.audit.entry import ACTOR_TYPES, AuditEvent
from lensguard.audit.models import HEAD_ID, AuditCheckpoint, AuditEntry, AuditHead
from lensguard.audit.seal import (
    DETAILS_COLUMN,
    Opener,
    details_subject,
    name_index,
    seal,
    split_details,
)
from lensguard.audit.verify import VerifyReport, verify
from lensguard.errors import ServiceUnavailable
from lensguard.protect.subkeys import Purpose, derive
from lensguard.settings import AUDIT_PERSONAL_DETAILS
from lensguard.store.db import Database
from lensguard.store.types import utcnow

_LOG = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)
MIN_KEY_BYTES = 32
ERASURE_ACTION = "gdpr.erasure"


@dataclass(frozen=True)
class _Details:
    """An event's details as stored: the clear text, and the personal part to seal."""

    text: str
    personal: str | None = None
    subject: str | None = None


async def lock_head(session: AsyncSession) -> tuple[int, str]:
    """Lock the head row for this transaction; its (last_seq, last_hash)."""
    result = await session.execute(
        select(AuditHead.last_seq, AuditHead.last_hash)
        .where(AuditHead.id == HEAD_ID)
        .with_for_update()
    )
    row = result.one_or_none()
    if row is None:
        raise ServiceUnavailable("the audit log is not initialised; run `lensguard db upgrade`")
    return int(row.last_seq), str(row.last_hash)


class AuditLog:
    """The tamper-evident audit log of one deployment."""

    def __init__(
        self,
        *,
        chain_key: bytes,
        pseudonym_key: bytes,
        checkpoint_key: Ed25519PrivateKey,
        checkpoint_every: int = 1000,
        clock: Callable[[], datetime] = utcnow,
        wrap_key: bytes | None = None,
        personal_details: Iterable[str] = AUDIT_PERSONAL_DETAILS,
    ) -> None:
        """``wrap_key`` (the master secret's) turns sealing on: see ``audit.seal``;
        ``personal_details`` names the details keys sealed as personal data."""
        if len(chain_key) < MIN_KEY_BYTES or len(pseudonym_key) < MIN_KEY_BYTES:
            raise ValueError(f"audit keys must be at least {MIN_KEY_BYTES} bytes")
        if chain_key == pseudonym_key:
            raise ValueError("the chain key and the pseudonym key must differ")
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self._chain_key = chain_key
        self._pseudonym_key = pseudonym_key
        self._checkpoint_key = checkpoint_key
        self.checkpoint_public_key = checkpoint_key.public_key()
        self.key_id = key_id(self.checkpoint_public_key)
        self.checkpoint_every = checkpoint_every
        self._clock = clock
        self._wrap_key = wrap_key
        self._personal_details = frozenset(personal_details)

    @classmethod
    def from_secret(
        cls, master: str, *, keys: Mapping[Purpose, bytes] | None = None, **kwargs: Any
    ) -> AuditLog:
        """An audit log whose three keys are derived from the master secret.

        ``keys`` holds them instead once a rotation has kept them (``lensguard.keyring``):
        the chain and its checkpoints stay verifiable under every later secret.
        """

        def key(purpose: Purpose) -> bytes:
            return keys[purpose] if keys is not None else derive(master, purpose)

        return cls(
            chain_key=key(Purpose.AUDIT_CHAIN),
            pseudonym_key=key(Purpose.AUDIT_PSEUDONYM),
            checkpoint_key=Ed25519PrivateKey.from_private_bytes(key(Purpose.AUDIT_CHECKPOINT)),
            wrap_key=derive(master, Purpose.WRAP),
            **kwargs,
        )

    def actor_ref(self, actor_type: str, actor_id: str | None) -> str | None:
        """The pseudonym entries of this actor carry."""
        return chain.actor_ref(self._pseudonym_key, actor_type, actor_id)

    def opener(self) -> Opener | None:
        """A reader of sealed fields for one read (None when this log does not seal)."""
        if self._wrap_key is None:
            return None
        return Opener(self._wrap_key, self._pseudonym_key)

    def sign(self, message: bytes) -> str:
        """An Ed25519 signature (hex) over ``message`` with the checkpoint key: statements
        that must be verifiable offline with the published key (erasure certificates)."""
        return self._checkpoint_key.sign(message).hex()

    async def append(self, session: AsyncSession, event: AuditEvent) -> int:
        """Append one entry in the caller's open transaction; its sequence number."""
        return (await self.append_many(session, [event]))[0]

    async def append_many(self, session: AsyncSession, events: Sequence[AuditEvent]) -> list[int]:
        """Append entries in order in the caller's transaction; their sequence numbers."""
        if not events:
            return []
        # Refuse unfit details before taking the lock every other appender waits for.
        details = [self._details(event) for event in events]
        last_seq, last_hash = await lock_head(session)
        stamps = [self._clock() for _ in events]
        keys = await self._subject_keys(session, events, details, stamps[0])
        rows = []
        for event, text, ts in zip(events, details, stamps, strict=True):
            row = self._entry(last_seq + 1, last_hash, event, text, ts=ts, keys=keys)
            rows.append(row)
            last_seq, last_hash = row["seq"], row["entry_hash"]
        # Core statements on the tables: the ORM's bulk path costs more than the I/O here.
        await session.execute(insert(_LOG), rows[0] if len(rows) == 1 else rows)
        await session.execute(
            update(_HEAD)
            .where(_HEAD.c.id == HEAD_ID)
            .values(last_seq=last_seq, last_hash=last_hash)
        )
        due = [row for row in rows if row["seq"] % self.checkpoint_every == 0]
        for row in due:
            await self._store_checkpoint(session, row["seq"], row["entry_hash"])
        return [row["seq"] for row in rows]

    def _details(self, event: AuditEvent) -> _Details:
        """The event's details split for storing; ValueError when unfit."""
        whole = chain.canonical_details(event.details)
        if self._wrap_key is None or not self._personal_details:
            return _Details(whole)
        kept, taken = split_details(event.details, self._personal_details)
        subject = details_subject(
            self._pseudonym_key,
            actor_type=event.actor_type,
            actor_id=event.actor_id,
            resource_type=event.resource_type,
            resource_id=event.resource_id,
        )
        if not taken or subject is None:
            return _Details(whole)
        return _Details(chain.canonical_details(kept), chain.canonical_details(taken), subject)

    async def _subject_keys(
        self,
        session: AsyncSession,
        events: Sequence[AuditEvent],
        details: Sequence[_Details],
        now: datetime,
    ) -> dict[str, bytes]:
        if self._wrap_key is None:
            return {}
        subjects = {
            ref
            for event in events
            if event.actor_name is not None or event.source_address is not None
            if (ref := self.actor_ref(event.actor_type, event.actor_id)) is not None
        }
        subjects.update(d.subject for d in details if d.subject is not None)
        return await subject_keys.ensure(session, self._wrap_key, subjects, now=now)

    def _entry(
        self,
        seq: int,
        prev_hash: str,
        event: AuditEvent,
        details: _Details,
        *,
        ts: datetime,
        keys: Mapping[str, bytes],
    ) -> dict[str, Any]:
        if ts.tzinfo is None:
            raise ValueError("the audit clock must return timezone-aware datetimes")
        ref = chain.actor_ref(self._pseudonym_key, event.actor_type, event.actor_id)
        digest = chain.personal_digest(
            self._chain_key, event.actor_id, event.actor_name, event.source_address
        )
        details_digest = details_sealed = None
        if details.personal is not None and details.subject is not None:
            details_digest = chain.details_digest(
                self._chain_key, details.subject, details.personal
            )
            details_sealed = seal(
                keys[details.subject],
                details.personal,
                column=DETAILS_COLUMN,
                seq=seq,
                subject=details.subject,
            )
        entry_hash = chain.entry_hash(
            self._chain_key,
            prev_hash,
            seq=seq,
            ts=chain.iso_ts(ts),
            actor_type=event.actor_type,
            actor_ref=ref,
            personal_digest=digest,
            action=event.action,
            resource_type=event.resource_type,
            resource_id=event.resource_id,
            outcome=event.outcome,
            details=chain.hashed_details(details.text, details_digest),
        )
        # The digest above covers the plaintext; a subject's entry stores it sealed.
        key = keys.get(ref) if ref is not None else None
        name, address = event.actor_name, event.source_address
        sealed_name = sealed_address = index = None
        if key is not None and ref is not None:
            sealed_name = seal(key, name, column="actor_name", seq=seq, subject=ref)
            sealed_address = seal(key, address, column="source_address", seq=seq, subject=ref)
            index = None if name is None else name_index(self._pseudonym_key, name)
            name = address = None
        return {
            "seq": seq,
            "ts": ts,
            "actor_type": event.actor_type,
            "actor_ref": ref,
            "actor_id": event.actor_id,
            "actor_name": name,
            "source_address": address,
            "actor_name_sealed": sealed_name,
            "source_address_sealed": sealed_address,
            "actor_name_index": index,
            "personal_digest": digest,
            "personal_erased": False,
            "action": event.action,
            "resource_type": event.resource_type,
            "resource_id": event.resource_id,
            "outcome": event.outcome,
            "details": details.text,
            "details_ref": details.subject,
            "details_sealed": details_sealed,
            "details_digest": details_digest,
            "prev_hash": prev_hash,
            "entry_hash": entry_hash,
        }

    async def _store_checkpoint(
        self, session: AsyncSession, seq: int, entry_hash: str
    ) -> Checkpoint:
        checkpoint = sign_checkpoint(
            self._checkpoint_key, seq=seq, entry_hash=entry_hash, ts=self._clock()
        )
        await session.execute(
            insert(AuditCheckpoint).values(
                seq=checkpoint.seq,
                entry_hash=checkpoint.entry_hash,
                ts=checkpoint.ts,
                signature=checkpoint.signature,
                key_id=checkpoint.key_id,
            )
        )
        return checkpoint

    async def checkpoint(self, session: AsyncSession) -> Checkpoint:
        """Sign the current head (or return the checkpoint already stored for it)."""
        last_seq, last_hash = await lock_head(session)
        result = await session.execute(
            select(
                AuditCheckpoint.seq,
                AuditCheckpoint.entry_hash,
                AuditCheckpoint.ts,
                AuditCheckpoint.signature,
                AuditCheckpoint.key_id,
            ).where(AuditCheckpoint.seq == last_seq)
        )
        row = result.one_or_none()
        if row is not None:
            return Checkpoint(row.seq, row.entry_hash, row.ts, row.signature, row.key_id)
        return await self._store_checkpoint(session, last_seq, last_hash)

    async def erase_subject(self, session: AsyncSession, *, actor_type: str, actor_id: str) -> int:
        """Erase one actor's personal fields (GDPR erasure); how many entries changed.

        Shreds the actor's subject key, which leaves its sealed fields unreadable, and
        blanks the fields kept in clear (``actor_id``, legacy entries, the name index) and
        the sealed details of entries about the actor.
        Appends a ``gdpr.erasure`` entry naming the actor's pseudonym, which is what
        lets the verifier tell a lawful erasure from a tampered ``personal_erased`` flag.
        """
        if actor_type not in ACTOR_TYPES:
            raise ValueError(f"actor_type must be one of {sorted(ACTOR_TYPES)}")
        ref = chain.actor_ref(self._pseudonym_key, actor_type, actor_id)
        # Lock first: no entry of this actor can commit between the UPDATE and the
        # erasure entry, so every erased entry precedes the entry that names it.
        await lock_head(session)
        result = await session.execute(
            update(AuditEntry)
            .where(AuditEntry.actor_ref == ref, AuditEntry.personal_erased.is_(False))
            .values(
                actor_id=None,
                actor_name=None,
                source_address=None,
                actor_name_index=None,
                personal_erased=True,
            )
            .execution_options(synchronize_session=False)
        )
        erased = int(result.rowcount)  # type: ignore[attr-defined]
        # Entries about this person by others: their sealed details go, the rest stays.
        result = await session.execute(
            update(AuditEntry)
            .where(AuditEntry.details_ref == ref, AuditEntry.details_sealed.is_not(None))
            .values(details_sealed=None)
            .execution_options(synchronize_session=False)
        )
        details_erased = int(result.rowcount)  # type: ignore[attr-defined]
        if ref is not None:
            await subject_keys.shred(session, ref)
        await self.append(
            session,
            AuditEvent(
                action=ERASURE_ACTION,
                outcome="success",
                actor_type="system",
                resource_type="audit_actor",
                resource_id=ref,
                details={"actor_ref": ref, "entries": erased, "details": details_erased},
            ),
        )
        return erased

    async def verify(
        self,
        db: Database,
        *,
        external_checkpoint: dict[str, Any] | None = None,
        progress: Callable[[int, int], None] | None = None,
        batch: int = 5000,
        upto: int | None = None,
    ) -> VerifyReport:
        """Verify the whole chain with this log's keys (see ``verify.verify``)."""
        return await verify(
            db,
            chain_key=self._chain_key,
            pseudonym_key=self._pseudonym_key,
            checkpoint_public_key=self.checkpoint_public_key,
            opener=self.opener(),
            external_checkpoint=external_checkpoint,
            progress=progress,
            batch=batch,
            upto=upto,
        )
