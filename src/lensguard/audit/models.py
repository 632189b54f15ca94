"""Audit tables on the shared ``Base`` (one metadata); migration 0003 creates them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Integer, String, Text, false
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
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    personal_digest: Mapped[str] = mapped_column(String(64))
    """HMAC over the three personal columns; the chain covers it instead of them."""
    personal_erased: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    action: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[str] = mapped_column(Text)
    """Canonical JSON text, hashed exactly as stored."""
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
