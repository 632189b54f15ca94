"""Erasure of recorded video for a person filmed (GDPR Art. 17): crypto-shredding a range.

An officer asks to erase what a device (or every device of a site) recorded between
two times; a second person approves (the same one only when
``privacy.erasure_four_eyes`` is off), which runs the erasure:

1. refuses while an active legal hold touches the range (naming the hold; checked
   again before each batch, so a hold placed meanwhile stops it), and while a device
   is still recording into it (its next segment could hold the person);
2. takes every segment that touches the range (a segment that overlaps it at all goes
   whole: segments are seconds long, and a half-erased one would still show the person)
   and removes it the way retention does (``recordings/trim.py``): the wrapped data key
   first (crypto-shredding: the ciphertext is unreadable from then on, in every copy and
   backup), then the file, then the index row with a ``recording.trimmed`` cut in the
   audit chain (``reason: erasure``, the request's id), so ``lensguard recordings
   verify`` still passes on what is left;
3. counts what went in the request, in the same transaction as each cut, so an erasure
   interrupted by a crash is finished (and counted right) by approving it again;
4. writes a signed certificate (``erasure.sign_certificate``) into the request and the
   audit log (``privacy.erasure``, kind ``recordings``). A ``done`` request never runs
   twice; a range with no segments is done with a count of zero.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal
from lensguard.errors import Conflict, Forbidden, NotFound, ValidationFailed
from lensguard.identity.auditing import audit_event
from lensguard.identity.context import IdentityContext
from lensguard.privacy import erasure
from lensguard.privacy.erasure import ERASED, ErasureView, sign_certificate, view
from lensguard.privacy.erasure_models import ErasureRequest
from lensguard.recordings.hold_models import LegalHold
from lensguard.recordings.holds import Span, holds_of
from lensguard.recordings.models import OpenRecording, RecordingSegment
from lensguard.recordings.trim import Crash, Run, remove_run, runs_of
from lensguard.recordings.vault import RecordingVault
from lensguard.store.models import Device

CERTIFICATE = "lensguard-recording-erasure-certificate/1"
REQUESTED = "privacy.erasure_request"
BATCH = 500
"""Segments looked at per pass (each pass removes what it found, then looks again)."""


class RecordingErasureContext(IdentityContext, Protocol):
    """What a recording erasure reads from the service container: identity and the vault."""

    recordings: RecordingVault


def check_range(start: datetime, end: datetime, *, now: datetime, max_days: int) -> None:
    """Refuse a range that is not ``from < to``, reaches the future or is too long."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("from and to must carry a time zone (e.g. 2026-12-01T10:00:00Z)")
    if start >= end:
        raise ValidationFailed("from must be before to")
    if end > now:
        raise ValidationFailed("to must not be in the future: only what is recorded can be erased")
    if end - start > timedelta(days=max_days):
        raise ValidationFailed(
            f"the range is longer than privacy.recording_erasure_max_days ({max_days} days);"
            " split it into several requests"
        )


async def _devices(session: AsyncSession, device_id: str | None, site: str | None) -> list[str]:
    """The devices in scope now: the one named, or every device of the site."""
    if device_id is not None:
        known = await session.get(Device, device_id)
        if known is not None:
            return [device_id]
        # A removed device's recordings stay in the index (no foreign key): still erasable.
        indexed = await session.scalar(
            select(RecordingSegment.id).where(RecordingSegment.device_id == device_id).limit(1)
        )
        if indexed is None:
            raise NotFound("no such device")
        return [device_id]
    assert site is not None
    found = await session.scalars(select(Device.id).where(Device.site == site).order_by(Device.id))
    ids = list(found.all())
    if not ids:
        raise NotFound("no such site (no device is on it)")
    return ids


async def _refuse_holds(
    session: AsyncSession, devices: Sequence[str], start: datetime, end: datetime
) -> None:
    holds: Sequence[LegalHold] = await holds_of(session, devices, active_only=True)
    touching = [h for h in holds if Span(h.range_start, h.range_end).touches(start, end)]
    if touching:
        named = ", ".join(f"{h.id} (device {h.device_id})" for h in touching)
        raise Conflict(
            f"a legal hold keeps recordings in this range: {named}; "
            "it must be released before they can be erased"
        )


async def _refuse_recording_now(
    session: AsyncSession, devices: Sequence[str], end: datetime
) -> None:
    """Refuse while a device records into the range: its next segment could be in it."""
    rows = await session.scalars(select(OpenRecording).where(OpenRecording.device_id.in_(devices)))
    for open_row in rows.all():
        last = await session.scalar(
            select(RecordingSegment)
            .where(RecordingSegment.recording_id == open_row.recording_id)
            .order_by(RecordingSegment.seq.desc())
            .limit(1)
        )
        if last is None or last.started_at < end:
            raise Conflict(
                f"device {open_row.device_id} is still recording into this range "
                f"(recording {open_row.recording_id}); approve again once its recording "
                "has passed the end of the range, or stop it"
            )


async def request(
    ctx: RecordingErasureContext,
    *,
    device_id: str | None,
    site: str | None,
    start: datetime,
    end: datetime,
    reason: str,
    by: Principal,
    address: str | None,
) -> ErasureView:
    """Record a request to erase a device's (or a site's) recordings from ``start`` to ``end``."""
    if (device_id is None) == (site is None):
        raise ValidationFailed("name a device or a site, not both")
    check_range(
        start, end, now=ctx.clock.now(), max_days=ctx.settings.privacy.recording_erasure_max_days
    )
    async with ctx.db.transaction() as session:
        devices = await _devices(session, device_id, site)
        await _refuse_holds(session, devices, start, end)
        same = await session.scalar(
            select(ErasureRequest).where(
                ErasureRequest.kind == "recordings",
                ErasureRequest.state == "pending",
                ErasureRequest.device_id.is_(None)
                if device_id is None
                else ErasureRequest.device_id == device_id,
                ErasureRequest.site.is_(None) if site is None else ErasureRequest.site == site,
                ErasureRequest.range_start == start,
                ErasureRequest.range_end == end,
            )
        )
        if same is not None:
            raise Conflict(f"the same erasure is already pending: {same.id}")
        row = ErasureRequest(
            kind="recordings",
            device_id=device_id,
            site=site,
            range_start=start,
            range_end=end,
            reason=reason,
            state="pending",
            requested_by=by.id,
            requested_at=ctx.clock.now(),
        )
        session.add(row)
        await session.flush()
        await ctx.audit.append(
            session,
            audit_event(
                REQUESTED,
                by=by,
                address=address,
                resource_type="device" if device_id is not None else "site",
                resource_id=device_id if device_id is not None else site,
                request_id=row.id,
                kind="recordings",
                range_start=start.isoformat(),
                range_end=end.isoformat(),
            ),
        )
    return view(row)


async def approve(
    ctx: RecordingErasureContext,
    request_id: str,
    *,
    by: Principal,
    address: str | None,
    four_eyes: bool = True,
    crash: Crash | None = None,
) -> ErasureView:
    """Approve and run any erasure request: an account's (``erasure.approve``) or recordings'.

    ``crash`` is called after each removal step (tests stop an erasure there).
    """
    async with ctx.db.sessions() as session:
        row = await session.get(ErasureRequest, request_id)
    if row is None:
        raise NotFound("no such erasure request")
    if row.kind == "account":
        return await erasure.approve(ctx, request_id, by=by, address=address, four_eyes=four_eyes)
    if row.state == "done":
        return view(row)
    if four_eyes and row.requested_by == by.id:
        raise Forbidden("a second person must approve an erasure (four eyes)")
    assert row.range_start is not None and row.range_end is not None
    start, end = row.range_start, row.range_end
    async with ctx.db.sessions() as session:
        devices = await _devices(session, row.device_id, row.site)
        await _refuse_holds(session, devices, start, end)
        await _refuse_recording_now(session, devices, end)
    async with ctx.db.transaction() as session:
        await session.execute(
            update(ErasureRequest)
            .where(ErasureRequest.id == request_id)
            .values(approved_by=by.id, approved_at=ctx.clock.now())
        )
    await _shred(ctx, request_id, devices, (start, end), crash)
    return await _finish(ctx, request_id, devices, by=by, address=address)


def _touching(devices: Sequence[str], start: datetime, end: datetime) -> Any:
    return (
        RecordingSegment.device_id.in_(devices),
        RecordingSegment.started_at < end,
        RecordingSegment.ended_at > start,
    )


async def _shred(
    ctx: RecordingErasureContext,
    request_id: str,
    devices: Sequence[str],
    span: tuple[datetime, datetime],
    crash: Crash | None,
) -> None:
    """Remove every segment touching the range, a batch at a time (the request counts)."""
    vault = ctx.recordings
    start, end = span

    async def counted(session: AsyncSession, run: Run) -> None:
        await session.execute(
            update(ErasureRequest)
            .where(ErasureRequest.id == request_id)
            .values(
                segments=ErasureRequest.segments + len(run.rows),
                size=ErasureRequest.size + run.size,
            )
        )

    while True:
        async with ctx.db.sessions() as session:
            # A hold placed while the erasure runs stops it before its next batch.
            await _refuse_holds(session, devices, start, end)
            found = await session.scalars(
                select(RecordingSegment)
                .where(*_touching(devices, start, end))
                .order_by(RecordingSegment.recording_id, RecordingSegment.seq)
                .limit(BATCH)
            )
            page = list(found.all())
            if not page:
                return
            chosen: dict[str, list[RecordingSegment]] = defaultdict(list)
            for segment in page:
                chosen[segment.recording_id].append(segment)
            runs = [run for rows in chosen.values() for run in await runs_of(session, rows)]
        for run in runs:
            await remove_run(
                ctx.db,
                vault.store,
                vault.audit,
                run,
                reason="erasure",
                crash=crash,
                details={"erasure_request": request_id},
                on_removed=counted,
            )


async def _finish(
    ctx: RecordingErasureContext,
    request_id: str,
    devices: Sequence[str],
    *,
    by: Principal,
    address: str | None,
) -> ErasureView:
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        row = await session.get(ErasureRequest, request_id, with_for_update=True)
        assert row is not None and row.range_start is not None and row.range_end is not None
        if row.state == "done":  # another approval finished it meanwhile
            return view(row)
        left = await session.scalar(
            select(func.count(RecordingSegment.id)).where(
                *_touching(devices, row.range_start, row.range_end)
            )
        )
        if left:
            raise Conflict(f"{left} segments in the range are still there; approve again")
        erased = {"segments": row.segments, "bytes": row.size}
        body: dict[str, Any] = {
            "schema": CERTIFICATE,
            "request_id": row.id,
            "kind": "recordings",
            "scope": {"device_id": row.device_id, "site": row.site, "devices": list(devices)},
            "range": {"from": row.range_start.isoformat(), "to": row.range_end.isoformat()},
            "reason": row.reason,
            "requested_by": row.requested_by,
            "requested_at": row.requested_at.isoformat(),
            "approved_by": by.id,
            "erased_at": now.isoformat(),
            "erased": erased,
            "method": "data keys deleted (crypto-shredding), files and index rows removed,"
            " each cut recorded in the audit chain (recording.trimmed)",
        }
        if not row.segments:
            body["note"] = "no recorded segment touched the range: nothing to erase"
        body = sign_certificate(ctx, body)
        row.state = "done"
        row.finished_at = now
        row.certificate = json.dumps(body, sort_keys=True)
        await ctx.audit.append(
            session,
            audit_event(
                ERASED,
                by=by,
                address=address,
                resource_type="device" if row.device_id is not None else "site",
                resource_id=row.device_id if row.device_id is not None else row.site,
                request_id=row.id,
                kind="recordings",
                erased=erased,
                signature=body["signature"],
            ),
        )
        return view(row)
