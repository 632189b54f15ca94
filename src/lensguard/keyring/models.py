"""The kept-key and rotation tables on the shared ``Base``; migration 0014 creates them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.store.models import Base
from lensguard.store.types import UTCDateTime, utcnow

ROTATION_STATES = ("running", "done")


class KeptKey(Base):
    """A purpose key whose data cannot be re-wrapped, stored wrapped under the master.

    Written by the first rotation: until then these keys are derived from the master
    secret on every start, as they always were.
    """

    __tablename__ = "secret_kept_keys"

    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    """The 32-byte key, AES-256-GCM under the master's keyring key, bound to the purpose."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SecretRotation(Base):
    """One move of every stored secret from one master secret to the next."""

    __tablename__ = "secret_rotations"
    __table_args__ = (CheckConstraint("state IN ('running', 'done')", name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    old_fingerprint: Mapped[str] = mapped_column(String(64))
    """``keyring.kept.fingerprint`` of the secret moved from (a one-way value)."""
    new_fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    step: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The kind of row being moved now; None once every step is done."""
    cursor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The last row of ``step`` moved, by primary key: a resumed run continues after it."""
    moved: Mapped[int] = mapped_column(Integer, default=0)
    unreadable: Mapped[int] = mapped_column(Integer, default=0)
    """Rows that open under neither secret (altered or foreign): left as they are."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


FIELD_PURPOSES = ("data", "index")


class FieldKey(Base):
    """A key for personal fields: AES-GCM data keys by version, and the blind-index key.

    Random, stored wrapped under the master secret's wrap key (a secret rotation
    re-wraps them). A data key whose rows were all re-sealed under a newer version is
    retired: its wrapped bytes are cleared, so what it sealed can never be read again,
    and its version is never reused.
    """

    __tablename__ = "field_keys"
    __table_args__ = (CheckConstraint("purpose IN ('data', 'index')", name="purpose"),)

    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """The 32-byte key, AES-256-GCM under the wrap key, bound to purpose and version."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
