"""``GET /api/v1/recordings/access``: who watched what, read from the audit log.

Every view, seek, download and evidence export of recordings is an audit row
(``recording.viewed``, ``.seeked``, ``.downloaded``, ``.exported``, and
``.export_downloaded``, listed as a download) naming who, which
device and which time range; this lists them newest first, filtered by device, by
user and by the recorded range watched (entries whose range overlaps ``[start, end)``;
a seek's range is its one instant). Needs ``audit_read``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from lensguard.access.principal import Principal
from lensguard.api.deps import ServicesDep, requires
from lensguard.api.pages import PAGED, Listing, PageDep, next_link
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.api.recordings_scope import utc
from lensguard.audit.models import AuditEntry
from lensguard.audit.seal import Opener
from lensguard.errors import ValidationFailed

router = APIRouter(
    prefix="/api/v1/recordings", tags=["recordings"], responses=problems(AUTHENTICATED)
)
Reader = Annotated[Principal, requires("audit_read")]
ACTIONS = {
    "recording.viewed": "viewed",
    "recording.seeked": "seeked",
    "recording.downloaded": "downloaded",
    "recording.exported": "exported",
    "recording.export_downloaded": "downloaded",
}
ID = r"^[A-Za-z0-9_-]{1,64}$"
BATCH = 500
ENTRIES: Listing[int] = Listing("recording-access", key=lambda seq: (seq,), parts=(int,))


class Actor(BaseModel):
    type: str
    id: str | None
    name: str | None = Field(description="null once erased (GDPR)")


class AccessEntry(BaseModel):
    at: datetime
    actor: Actor
    action: str = Field(description="viewed, seeked, downloaded or exported")
    device_id: str | None
    start: datetime | None
    end: datetime | None
    playback_id: str | None = None


class AccessPage(BaseModel):
    items: list[AccessEntry]
    next_cursor: str | None


def _range(details: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    if "at" in details:
        at = datetime.fromisoformat(str(details["at"]))
        return at, at
    start, end = details.get("start"), details.get("end")
    return (
        None if start is None else datetime.fromisoformat(str(start)),
        None if end is None else datetime.fromisoformat(str(end)),
    )


def _entry(row: AuditEntry, opener: Opener | None) -> AccessEntry:
    details = json.loads(row.details)
    start, end = _range(details)
    name = opener.personal(row)[0] if opener is not None else row.actor_name
    return AccessEntry(
        at=row.ts,
        actor=Actor(type=row.actor_type, id=row.actor_id, name=name),
        action=ACTIONS[row.action],
        device_id=row.resource_id,
        start=start,
        end=end,
        playback_id=details.get("playback_id"),
    )


def _overlaps(entry: AccessEntry, start: datetime | None, end: datetime | None) -> bool:
    if entry.start is None or entry.end is None:
        return start is None and end is None
    if start is not None and entry.end < start:
        return False
    return not (end is not None and entry.start >= end)


@router.get("/access", summary="Who watched which recordings", responses=PAGED | problems(422))
async def access(
    *,
    principal: Reader,
    services: ServicesDep,
    page: PageDep,
    device_id: Annotated[str | None, Query(pattern=ID)] = None,
    user_id: Annotated[str | None, Query(pattern=ID)] = None,
    start: Annotated[datetime | None, Query(description="recorded range watched, from")] = None,
    end: Annotated[datetime | None, Query(description="recorded range watched, until")] = None,
) -> AccessPage:
    """Views, seeks, downloads and exports of recordings, newest first, from the audit log."""
    del principal
    start = None if start is None else utc(start, "start")
    end = None if end is None else utc(end, "end")
    if start is not None and end is not None and end <= start:
        raise ValidationFailed(
            "end must be after start",
            errors=[{"field": "end", "message": "end must be after start", "type": "value"}],
        )
    after = ENTRIES.decode(page.cursor)
    below = None if after is None else int(after[0])
    found: list[tuple[int, AccessEntry]] = []
    async with services.db.sessions() as session:
        while len(found) <= page.limit:
            query = select(AuditEntry).where(AuditEntry.action.in_(list(ACTIONS)))
            if device_id is not None:
                query = query.where(AuditEntry.resource_id == device_id)
            if user_id is not None:
                query = query.where(AuditEntry.actor_id == user_id)
            if below is not None:
                query = query.where(AuditEntry.seq < below)
            rows = (
                (await session.execute(query.order_by(AuditEntry.seq.desc()).limit(BATCH)))
                .scalars()
                .all()
            )
            opener = services.audit.opener()
            if opener is not None:
                await opener.load_entries(session, rows)
            for row in rows:
                entry = _entry(row, opener)
                if _overlaps(entry, start, end):
                    found.append((row.seq, entry))
            if len(rows) < BATCH:
                break
            below = rows[-1].seq
    shown = found[: page.limit]
    cursor = None
    if len(found) > page.limit:
        cursor = ENTRIES.encode((shown[-1][0],))
        page.response.headers["Link"] = next_link(page.request, cursor=cursor)
    return AccessPage(items=[entry for _, entry in shown], next_cursor=cursor)
