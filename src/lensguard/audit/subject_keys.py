"""Per-subject data keys of the audit log: created on first use, shredded on erasure.

A subject is an ``actor_ref`` (the keyed pseudonym of one person or API key). Its key
is 32 random bytes, stored wrapped under the master secret's wrap key and bound to the
subject, so a wrapped key copied into another subject's row does not open. Deleting
the row is crypto-shredding: every personal field sealed under it becomes unreadable,
in the database and in every copy of its rows, while the chain stays intact.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from lensguard.audit.models import AuditSubjectKey
from lensguard.errors import ServiceUnavailable
from lensguard.protect.wrap import UnwrapError, unwrap, wrap

KEY_BYTES = 32
WRAP_LABEL = "lensguard-audit-subject-key/1"


def wrap_aad(subject: str) -> bytes:
    """What a wrapped subject key is bound to (for re-wrapping it)."""
    return f"{WRAP_LABEL}|{subject}".encode()


async def load(
    conn: AsyncSession | AsyncConnection, wrap_key: bytes, subjects: Collection[str]
) -> dict[str, bytes | None]:
    """The stored keys of ``subjects``: None for one that is gone (shredded) or unreadable."""
    found: dict[str, bytes | None] = dict.fromkeys(subjects)
    if not subjects:
        return found
    rows = await conn.execute(
        select(AuditSubjectKey.subject, AuditSubjectKey.wrapped).where(
            AuditSubjectKey.subject.in_(list(subjects))
        )
    )
    for subject, wrapped in rows:
        try:
            found[subject] = unwrap(wrap_key, wrapped, aad=wrap_aad(subject))
        except UnwrapError:
            found[subject] = None
    return found


async def ensure(
    session: AsyncSession, wrap_key: bytes, subjects: Collection[str], *, now: datetime
) -> dict[str, bytes]:
    """The keys of ``subjects``, creating the missing ones; call under the audit head lock.

    Raises ServiceUnavailable when a stored key does not open under this wrap key (a
    node on another master secret): sealing under a fresh key would orphan the old one.
    """
    if not subjects:
        return {}
    rows = await session.execute(
        select(AuditSubjectKey.subject, AuditSubjectKey.wrapped).where(
            AuditSubjectKey.subject.in_(list(subjects))
        )
    )
    keys: dict[str, bytes] = {}
    for subject, wrapped in rows:
        try:
            keys[subject] = unwrap(wrap_key, wrapped, aad=wrap_aad(subject))
        except UnwrapError:
            raise ServiceUnavailable(
                "an audit subject key does not open under this master secret; "
                "is a secret rotation unfinished?"
            ) from None
    missing = [subject for subject in subjects if subject not in keys]
    if missing:
        for subject in missing:
            keys[subject] = os.urandom(KEY_BYTES)
        await session.execute(
            insert(AuditSubjectKey),
            [
                {
                    "subject": subject,
                    "wrapped": wrap(wrap_key, keys[subject], aad=wrap_aad(subject)),
                    "created_at": now,
                }
                for subject in missing
            ],
        )
    return keys


async def shred(session: AsyncSession, subject: str) -> bool:
    """Delete ``subject``'s key; whether there was one."""
    result = await session.execute(
        delete(AuditSubjectKey)
        .where(AuditSubjectKey.subject == subject)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
