"""The ``erasure_requests`` table on the shared ``Base``; migration 0019 creates it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.store.models import Base, new_id
from lensguard.store.types import UTCDateTime

STATES = ("pending", "done")


class ErasureRequest(Base):
    """A request to erase one account's personal data, and its outcome."""

    __tablename__ = "erasure_requests"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'done')", name="state"),
        Index("ix_erasure_requests_user", "user_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32))
    """The account's id: a random id, which names no one once the account is erased."""
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    certificate: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The signed certificate of erasure (JSON), once done."""
