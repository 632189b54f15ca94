"""What the CA issued, and its revocation lists, on the shared ``Base``; migration 0025."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.store.models import Base
from lensguard.store.types import UTCDateTime, utcnow

KINDS = ("server", "device")


class IssuedCertificate(Base):
    """One certificate the internal CA signed (its key is never kept here)."""

    __tablename__ = "pki_certificates"
    __table_args__ = (CheckConstraint("kind IN ('server', 'device')", name="kind"),)

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    """Lower-case hex, as ``authority.serial_hex`` spells it."""
    kind: Mapped[str] = mapped_column(String(16))
    common_name: Mapped[str] = mapped_column(String(255))
    names: Mapped[str] = mapped_column(Text, default="")
    """Comma-separated DNS names and addresses (server certificates)."""
    device_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    """No foreign key: the record outlives a deleted device, as the audit does."""
    fingerprint: Mapped[str] = mapped_column(String(95))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the expiry alert went out (once per certificate)."""

    @property
    def name_list(self) -> list[str]:
        """``names`` as a list."""
        return [name for name in self.names.split(",") if name]


class RevocationList(Base):
    """A signed CRL; the highest number is the one in force."""

    __tablename__ = "pki_crls"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pem: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[datetime] = mapped_column(UTCDateTime)
