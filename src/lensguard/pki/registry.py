"""The database side of the CA: issued certificates, revocations, the list in force.

Every node reads revocations from here, so a certificate revoked by ``lensguard certs
revoke`` on one machine is refused by all of them: at once on sockets that are open
(``peer`` checks the registry), and at the next handshake once each node has loaded
the new list (``watch``, or SIGHUP).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import Conflict, NotFound, ValidationFailed
from lensguard.pki.authority import REASONS, Authority, Issued, Revoked, sign_crl
from lensguard.pki.models import IssuedCertificate, RevocationList
from lensguard.store.db import Database
from lensguard.tls import cert_fingerprint


def normal_serial(serial: str) -> str:
    """A serial as typed (any case, with or without colons) in the registry's spelling."""
    text = serial.strip().lower().replace(":", "")
    if not text or len(text) > 40 or any(c not in "0123456789abcdef" for c in text):
        raise ValidationFailed(
            f"{serial!r} is not a certificate serial (hex, as `certs list` shows)"
        )
    return text.lstrip("0") or "0"


async def record(
    session: AsyncSession,
    issued: Issued,
    *,
    kind: str,
    names: list[str] | None = None,
    device_id: str | None = None,
) -> IssuedCertificate:
    """Keep what was issued (never the key)."""
    cert = issued.cert
    row = IssuedCertificate(
        serial=issued.serial,
        kind=kind,
        common_name=cert.subject.rfc4514_string().removeprefix("CN="),
        names=",".join(names or []),
        device_id=device_id,
        fingerprint=cert_fingerprint(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
    session.add(row)
    await session.flush()
    return row


async def find(session: AsyncSession, serial: str) -> IssuedCertificate:
    """The certificate with ``serial``; NotFound otherwise."""
    row = await session.get(IssuedCertificate, normal_serial(serial))
    if row is None:
        raise NotFound(f"no certificate with serial {serial} was issued by this CA")
    return row


async def listing(db: Database) -> list[IssuedCertificate]:
    """Every issued certificate, newest first."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(IssuedCertificate).order_by(IssuedCertificate.issued_at.desc())
        )
        return list(rows.scalars())


async def revoke(
    session: AsyncSession, serial: str, *, reason: str, at: datetime
) -> IssuedCertificate:
    """Mark ``serial`` revoked for ``reason``; Conflict when it already is."""
    if reason not in REASONS:
        raise ValidationFailed(f"reason must be one of {', '.join(REASONS)}")
    row = await find(session, serial)
    if row.revoked_at is not None:
        raise Conflict(f"certificate {row.serial} was already revoked at {row.revoked_at:%Y-%m-%d}")
    row.revoked_at, row.revoke_reason = at, reason
    await session.flush()
    return row


async def revoked_devices(db: Database) -> dict[str, str | None]:
    """Every revoked serial, with the device it names (None for a server certificate)."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(IssuedCertificate.serial, IssuedCertificate.device_id).where(
                IssuedCertificate.revoked_at.is_not(None)
            )
        )
        return {serial: device_id for serial, device_id in rows}


async def is_revoked(db: Database, serial: str) -> bool:
    """Whether the registry marks ``serial`` revoked (an unknown serial counts as revoked)."""
    async with db.sessions() as session:
        row = await session.get(IssuedCertificate, serial)
    return row is None or row.revoked_at is not None


async def latest_crl(db: Database) -> RevocationList | None:
    """The revocation list in force (the highest number), or None before ``certs init``."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(RevocationList).order_by(RevocationList.number.desc()).limit(1)
        )
        return rows.scalar_one_or_none()


async def publish_crl(db: Database, ca: Authority, *, now: datetime, days: int) -> RevocationList:
    """Sign a list of every revoked serial under the next number and store it.

    Two nodes publishing at once cannot both win a number: the loser's insert fails on
    the primary key and it signs again under the next one.
    """
    for _ in range(5):
        async with db.sessions() as session:
            revoked = await session.execute(
                select(IssuedCertificate).where(IssuedCertificate.revoked_at.is_not(None))
            )
            entries = [
                Revoked(row.serial, row.revoked_at, row.revoke_reason or "unspecified")
                for row in revoked.scalars()
                if row.revoked_at is not None
            ]
            highest = await session.scalar(select(func.max(RevocationList.number)))
        number = (highest or 0) + 1
        pem = sign_crl(ca, entries, number=number, now=now, days=days)
        row = RevocationList(
            number=number, pem=pem.decode(), issued_at=now, next_update=now + timedelta(days=days)
        )
        try:
            async with db.transaction() as session:
                session.add(row)
        except IntegrityError:
            continue
        return row
    raise Conflict("the revocation list is being published elsewhere; try again")


async def due_for_warning(db: Database, *, before: datetime) -> list[IssuedCertificate]:
    """Live certificates that expire before ``before`` and were not warned about yet."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(IssuedCertificate).where(
                IssuedCertificate.revoked_at.is_(None),
                IssuedCertificate.warned_at.is_(None),
                IssuedCertificate.not_after < before,
            )
        )
        return list(rows.scalars())


async def mark_warned(db: Database, serials: list[str], *, at: datetime) -> None:
    """Remember that the expiry alert for ``serials`` went out."""
    if not serials:
        return
    async with db.transaction() as session:
        await session.execute(
            update(IssuedCertificate)
            .where(IssuedCertificate.serial.in_(serials))
            .values(warned_at=at)
        )
