"""Audit tables on the shared ``Base`` (one metadata); migrations 0003, 0023, 0026 create them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.store.models import Base
from lensguard.store.types import UTCDateTime

GENESIS_HASH = "0" * 64
"""``prev_hash`` of entry 1 and ``last_hash`` of an empty log."""
HEAD_ID = 1


class AuditEntry(Base):
    """One hash-chained audit entry. Never updated, except erasure of personal columns."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_resource", "resource_type", "resource_id"),)

    # Allocated by AuditLog under the head-row lock, never by the database.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_ref: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    """Keyed pseudonym of (actor_type, actor_id); survives erasure."""
    actor_id: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)
    actor_name: Mapped[str | None] = mapped_column(String(255), index=True, nullable=True)
    """In clear only on entries without a subject key (no actor id, or written before 0023)."""
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor_name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """``actor_name`` sealed under the subject's key (``audit.seal``); unreadable once shredded."""
    source_address_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    actor_name_index: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    """Keyed blind index of a sealed ``actor_name``, so queries still find a name; erased."""
    personal_digest: Mapped[str] = mapped_column(String(64))
    """HMAC over the three personal columns; the chain covers it instead of them."""
    personal_erased: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    action: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[str] = mapped_column(Text)
    """Canonical JSON text, hashed exactly as stored (less the personal values sealed below)."""
    details_ref: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    """The subject whose key seals ``details_sealed``: the user the entry is about, else the
    actor (``audit.seal``); survives erasure."""
    details_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """The personal values taken out of ``details``, sealed; blanked on erasure."""
    details_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """HMAC over ``details_ref`` and the sealed values; the chain covers it instead of them."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row (id 1) holding the last sequence number and hash; locked to append."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement that entry ``seq`` had hash ``entry_hash`` at time ``ts``."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    signature: Mapped[str] = mapped_column(String(128))
    """Ed25519 signature, hex."""
    key_id: Mapped[str] = mapped_column(String(64))


class AuditSubjectKey(Base):
    """One subject's (``actor_ref``'s) data key, wrapped; erasure deletes the row (shredding)."""

    __tablename__ = "audit_subject_keys"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The subject's ``actor_ref``."""
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    """AES-256 key, wrapped under the master secret's wrap key (``protect.wrap``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
