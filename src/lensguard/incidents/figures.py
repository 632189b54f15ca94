"""The security desk's figures over time, counted from the audit log and the incidents.

Every figure comes from stored, cluster-wide records, so each node draws the same
dashboard and a restart forgets nothing:

- ``failed_logins``: ``auth.login`` entries that did not succeed;
- ``denials``: ``access.denied`` entries (every refusal of the one policy function);
- ``blocks``: addresses blocked by a person (``security.block``) or by a threat
  response that blocked (``threats.response`` with ``response=block_ip``, applied);
- ``detections``: every threat detection (each writes one ``threats.response`` entry);
- ``alerts``: incidents opened, the alerts a person must act on.

The window (``since``, ``until``] is cut into ``BUCKETS`` equal buckets ending at
``until`` (an event at ``until`` itself counts in the last). At most
``MAX_ENTRIES`` audit entries are read, newest first; past that the older buckets
would be short, so the answer says ``truncated`` rather than draw a false calm.
Top sources rank the addresses behind failed logins, denials and detections.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit.models import AuditEntry
from lensguard.audit.seal import Opener
from lensguard.incidents.book import RUNNING
from lensguard.incidents.models import Incident

BUCKETS = 24
MAX_ENTRIES = 50_000
TOP_SOURCES = 10
SERIES = ("failed_logins", "denials", "blocks", "detections", "alerts")
LOGIN = "auth.login"
DENIED = "access.denied"
BLOCK = "security.block"
DETECTION = "threats.response"
ACTIONS = (LOGIN, DENIED, BLOCK, DETECTION)
SOURCE_SERIES = ("failed_logins", "denials", "detections")


@dataclass
class Bucket:
    start: datetime
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class Source:
    address: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Figures:
    since: datetime
    until: datetime
    bucket_seconds: int
    buckets: list[Bucket]
    totals: Counter[str]
    top_sources: list[Source]
    open_incidents: int
    truncated: bool


def series_of(entry: AuditEntry) -> str | None:
    """Which series an audit entry counts in, if any."""
    if entry.action == LOGIN:
        return "failed_logins" if entry.outcome != "success" else None
    if entry.action == DENIED:
        return "denials"
    if entry.action == BLOCK:
        return "blocks" if entry.outcome == "success" else None
    if entry.action == DETECTION:
        return "detections"
    return None


def _blocked_by_response(entry: AuditEntry) -> bool:
    if entry.action != DETECTION:
        return False
    try:
        details = json.loads(entry.details)
    except ValueError:
        return False
    return (
        isinstance(details, dict)
        and details.get("response") == "block_ip"
        and details.get("status") == "applied"
    )


async def _entries(
    session: AsyncSession, since: datetime, until: datetime
) -> tuple[list[AuditEntry], bool]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.action.in_(ACTIONS), AuditEntry.ts > since, AuditEntry.ts <= until)
        .order_by(AuditEntry.seq.desc())
        .limit(MAX_ENTRIES + 1)
    )
    entries = list((await session.execute(stmt)).scalars())
    return entries[:MAX_ENTRIES], len(entries) > MAX_ENTRIES


async def _incidents(
    session: AsyncSession, since: datetime, until: datetime
) -> tuple[list[datetime], int]:
    opened = select(Incident.opened_at).where(
        Incident.opened_at > since, Incident.opened_at <= until
    )
    still_open = select(func.count()).select_from(Incident).where(Incident.state.in_(RUNNING))
    times = [at for (at,) in (await session.execute(opened.limit(MAX_ENTRIES))).all()]
    count = int((await session.execute(still_open)).scalar_one())
    return times, count


async def figures(
    session: AsyncSession, *, until: datetime, hours: int, opener: Opener | None
) -> Figures:
    """The dashboard's figures for the ``hours`` before ``until``."""
    bucket_seconds = hours * 3600 // BUCKETS
    since = until - timedelta(seconds=bucket_seconds * BUCKETS)
    buckets = [Bucket(since + timedelta(seconds=i * bucket_seconds)) for i in range(BUCKETS)]

    def bucket(at: datetime) -> Bucket:
        index = int((at - since).total_seconds()) // bucket_seconds
        return buckets[min(max(index, 0), BUCKETS - 1)]

    entries, truncated = await _entries(session, since, until)
    if opener is not None:
        await opener.load_entries(session, entries)
    sources: dict[str, Source] = {}
    for entry in entries:
        name = series_of(entry)
        if name is None:
            continue
        bucket(entry.ts).counts[name] += 1
        if _blocked_by_response(entry):
            bucket(entry.ts).counts["blocks"] += 1
        if name not in SOURCE_SERIES:
            continue
        address = opener.personal(entry)[1] if opener is not None else entry.source_address
        if address:
            sources.setdefault(address, Source(address)).counts[name] += 1
    opened, open_incidents = await _incidents(session, since, until)
    for at in opened:
        bucket(at).counts["alerts"] += 1
    totals: Counter[str] = Counter({name: 0 for name in SERIES})
    for each in buckets:
        totals.update(each.counts)
    top = sorted(sources.values(), key=lambda s: (-s.total, s.address))[:TOP_SOURCES]
    return Figures(
        since=since,
        until=until,
        bucket_seconds=bucket_seconds,
        buckets=buckets,
        totals=totals,
        top_sources=top,
        open_incidents=open_incidents,
        truncated=truncated,
    )
