"""The ``erasure_requests`` table on the shared ``Base``; migrations 0019 and 0021 create it.

A request is of one ``kind``: ``account`` (one person's account and what names them)
or ``recordings`` (the recorded video of a device, or of a site's devices, between two
times, for a person filmed; ``privacy/recording_erasure.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.store.models import Base, new_id
from lensguard.store.types import UTCDateTime

STATES = ("pending", "done")
KINDS = ("account", "recordings")


class ErasureRequest(Base):
    """A request to erase one account's personal data, or a range of recordings, and its outcome."""

    __tablename__ = "erasure_requests"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'done')", name="state"),
        CheckConstraint("kind IN ('account', 'recordings')", name="kind"),
        Index("ix_erasure_requests_user", "user_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16), default="account", server_default="account")
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The account's id (kind ``account``): a random id, which names no one once erased."""
    device_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Kind ``recordings``: the device whose video goes (or None with ``site``)."""
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Kind ``recordings``: every device of this site (or None with ``device_id``)."""
    range_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    range_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Kind ``recordings``: every segment that touches ``range_start`` to ``range_end`` goes."""
    segments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Kind ``recordings``: segments shredded so far (kept with each removal, so a resumed
    erasure counts what an interrupted one already did)."""
    size: Mapped[int] = mapped_column("bytes", BigInteger, default=0, server_default="0")
    """Kind ``recordings``: their stored bytes."""
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    certificate: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The signed certificate of erasure (JSON), once done."""
