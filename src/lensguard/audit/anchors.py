"""Retention anchors: signed statements that entries up to ``seq`` were pruned.

An anchor names the last pruned entry and its hash, signed (Ed25519, the checkpoint
key) over its own statement type, so a stored checkpoint can never be passed off as
an anchor to hide deleted entries. The verifier starts from the newest anchor: the
first remaining entry must link to its hash. Migration 0022 creates the table.
"""

from __future__ import annotations

import json
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import BigInteger, String, select, type_coerce
from sqlalchemy.orm import Mapped, mapped_column

from lensguard.audit.chain import iso_ts
from lensguard.audit.checkpoint import Checkpoint
from lensguard.audit.reader import LenientUTC
from lensguard.store.db import Database
from lensguard.store.models import Base
from lensguard.store.types import UTCDateTime

ANCHOR_TYPE = "lensguard-audit-anchor/1"


class AuditAnchor(Base):
    """A signed statement that entries up to ``seq`` (hash ``entry_hash``) were pruned."""

    __tablename__ = "audit_anchors"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    """The last pruned entry; the first kept one is ``seq + 1``."""
    entry_hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    """When it was signed."""
    signature: Mapped[str] = mapped_column(String(128))
    """Ed25519 signature over ``anchor_statement(...)``, hex."""
    key_id: Mapped[str] = mapped_column(String(64))


def anchor_statement(*, seq: int, entry_hash: str, ts: datetime) -> bytes:
    """The exact bytes an anchor signature covers (not a checkpoint's: the type differs)."""
    body = {"type": ANCHOR_TYPE, "seq": seq, "entry_hash": entry_hash, "ts": iso_ts(ts)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def verify_anchor_signature(anchor: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    """True when ``public_key`` signed this anchor's statement."""
    if anchor.ts is None:
        return False
    try:
        message = anchor_statement(seq=anchor.seq, entry_hash=anchor.entry_hash, ts=anchor.ts)
        public_key.verify(bytes.fromhex(anchor.signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


async def newest_anchor(db: Database) -> Checkpoint | None:
    """The anchor with the highest ``seq`` (an unreadable ``ts`` reads as None), or None."""
    statement = (
        select(
            AuditAnchor.seq,
            AuditAnchor.entry_hash,
            type_coerce(AuditAnchor.ts, LenientUTC()).label("ts"),
            AuditAnchor.signature,
            AuditAnchor.key_id,
        )
        .order_by(AuditAnchor.seq.desc())
        .limit(1)
    )
    async with db.engine.connect() as conn:
        row = (await conn.execute(statement)).one_or_none()
    return None if row is None else Checkpoint(*row)
