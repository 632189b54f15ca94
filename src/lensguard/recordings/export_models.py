"""Evidence signing keys and evidence exports on the shared ``Base``; migration 0016.

``EvidenceKey`` is an Ed25519 pair that signs evidence bundles, apart from the token
signing keys (``signing_keys``): tokens never verify with it. Its private half is
stored only wrapped, like theirs. ``RecordingExport`` is one evidence bundle: who
built it, of which device and range, why, its SHA-256, and the wrapped data key of
its encrypted copy in the segment store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.store.models import Base, new_id
from lensguard.store.types import UTCDateTime, utcnow


class EvidenceKey(Base):
    """One evidence signing key; the newest unretired one signs, every one stays published."""

    __tablename__ = "evidence_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When a newer key took over signing; the key stays in the JWKS for old bundles."""


class RecordingExport(Base):
    """One evidence bundle, kept encrypted in the segment store under ``id``."""

    __tablename__ = "recording_exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(String(32), index=True)
    stream: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kid: Mapped[str] = mapped_column(String(64))
    """The evidence key that signed the bundle."""
    size: Mapped[int] = mapped_column("bytes", BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the bundle (the zip file)."""
    key_id: Mapped[str] = mapped_column(String(64))
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """The data key of the stored copy; NULL once shredded."""
