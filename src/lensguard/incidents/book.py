"""``IncidentBook``: incidents and their timelines, every entry also in the audit chain.

Detections group into incidents: one about the same source address and principal that
is still running (not closed, not a false positive) and saw a detection within the
grouping window takes the new one; otherwise a new incident opens, its kind and title
from the playbook that answers the detection's kind (``unclassified`` when none does),
its severity the higher of the two, its notification deadline from the playbook. An
incident can also be opened by hand. Each timeline entry is written in the same
transaction as an ``incident.<kind>`` audit entry, so the timeline cannot say what the
audit chain does not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit import AuditEvent, AuditLog
from lensguard.errors import NotFound
from lensguard.incidents.models import Incident, IncidentEntry
from lensguard.incidents.playbook import Playbook
from lensguard.incidents.states import State, move
from lensguard.incidents.steps import runnable
from lensguard.severity import Severity
from lensguard.store.db import Database
from lensguard.threats.detection import Detection

UNCLASSIFIED = "unclassified"
_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}
RUNNING = [s.value for s in State if s not in (State.CLOSED, State.FALSE_POSITIVE)]


def group_key(address: str | None, principal: str | None) -> str:
    """Detections with the same key may join one incident."""
    return json.dumps([address, principal])


def worse(a: Severity, b: Severity) -> Severity:
    return a if _RANK[a] >= _RANK[b] else b


@dataclass(frozen=True)
class Actor:
    """Who did something to an incident: a person (id, name) or the system (None)."""

    id: str | None
    name: str | None
    address: str | None = None


SYSTEM = Actor(None, None)
"""Detections and the server's own work (acknowledges nothing)."""
SHELL = Actor(None, "lensguard-cli")
"""Someone on the server's shell (``lensguard incidents``): acknowledges like a person."""


class IncidentBook:
    """Incidents in the database; ``playbooks`` by kind decide what a detection opens."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        playbooks: Mapping[str, Playbook],
        *,
        group_window: timedelta = timedelta(hours=1),
    ) -> None:
        self.db = db
        self.audit = audit
        self.playbooks = playbooks
        self.group_window = group_window
        self._answers = {
            detection: book for book in playbooks.values() for detection in book.detections
        }

    def playbook_for(self, detection_kind: str) -> Playbook | None:
        """The playbook that answers ``detection_kind`` (None: unclassified)."""
        return self._answers.get(detection_kind)

    async def write_entry(
        self,
        session: AsyncSession,
        incident: Incident,
        kind: str,
        *,
        at: datetime,
        actor: Actor,
        body: Mapping[str, Any],
    ) -> IncidentEntry:
        """Add the next timeline entry, and its ``incident.<kind>`` audit entry, in ``session``."""
        entry = IncidentEntry(
            incident_id=incident.id,
            n=incident.entries,
            at=at,
            kind=kind,
            actor=actor.id,
            body=json.dumps(dict(body), sort_keys=True, default=str),
        )
        incident.entries += 1
        session.add(entry)
        await self.audit.append(
            session,
            AuditEvent(
                action=f"incident.{kind}",
                outcome="success",
                actor_type="system" if actor.id is None else "user",
                actor_id=actor.id,
                actor_name=actor.name,
                source_address=actor.address,
                resource_type="incident",
                resource_id=incident.id,
                details={"incident_kind": incident.kind, **body},
            ),
        )
        return entry

    async def record(self, detection: Detection) -> Incident:
        """File ``detection`` under its running incident, or open one for it."""
        key = group_key(detection.address, detection.principal)
        at = detection.time
        body = {
            "detection": detection.kind,
            "score": detection.score,
            "severity": detection.severity.value,
            "response": detection.response,
            "event_ids": list(detection.event_ids[:20]),
        }
        async with self.db.transaction() as session:
            incident = await session.scalar(
                select(Incident)
                .where(
                    Incident.group_key == key,
                    Incident.state.in_(RUNNING),
                    Incident.last_seen_at >= at - self.group_window,
                )
                .order_by(Incident.last_seen_at.desc())
                .limit(1)
            )
            if incident is None:
                book = self.playbook_for(detection.kind)
                incident = self._new(
                    kind=book.kind if book else UNCLASSIFIED,
                    title=book.title if book else f"Unclassified: {detection.kind}",
                    severity=worse(book.severity, detection.severity)
                    if book
                    else detection.severity,
                    address=detection.address,
                    principal=detection.principal,
                    at=at,
                    book=book,
                )
                session.add(incident)
                await session.flush()
                await self.write_entry(
                    session, incident, "opened", at=at, actor=SYSTEM, body={"by": "detection"}
                )
            else:
                incident.severity = worse(Severity(incident.severity), detection.severity).value
            incident.last_seen_at = max(incident.last_seen_at, at)
            incident.detections += 1
            await self.write_entry(session, incident, "detection", at=at, actor=SYSTEM, body=body)
        return incident

    def _new(
        self,
        *,
        kind: str,
        title: str,
        severity: Severity,
        address: str | None,
        principal: str | None,
        at: datetime,
        book: Playbook | None,
        opened_by: str | None = None,
    ) -> Incident:
        hours = book.notify_within_hours if book else None
        return Incident(
            kind=kind,
            title=title[:200],
            severity=severity.value,
            state=State.OPEN.value,
            group_key=group_key(address, principal),
            address=address,
            principal=principal,
            opened_by=opened_by,
            opened_at=at,
            last_seen_at=at,
            notify_by=at + timedelta(hours=hours) if hours else None,
            detections=0,
            entries=0,
        )

    async def open(
        self,
        *,
        kind: str,
        title: str,
        severity: Severity,
        at: datetime,
        actor: Actor,
        address: str | None = None,
        principal: str | None = None,
    ) -> Incident:
        """Open an incident by hand (``kind`` a playbook's, or ``unclassified``)."""
        book = self.playbooks.get(kind)
        if book is None and kind != UNCLASSIFIED:
            known = ", ".join(sorted(self.playbooks))
            raise ValueError(f"no playbook for {kind!r}; known: {known}, or {UNCLASSIFIED}")
        async with self.db.transaction() as session:
            incident = self._new(
                kind=kind,
                title=title,
                severity=severity,
                address=address,
                principal=principal,
                at=at,
                book=book,
                opened_by=actor.id,
            )
            acknowledge(incident, at, actor)
            session.add(incident)
            await session.flush()
            await self.write_entry(
                session, incident, "opened", at=at, actor=actor, body={"by": "hand"}
            )
        return incident

    async def change_state(
        self, incident_id: str, wanted: State, *, at: datetime, actor: Actor, note: str = ""
    ) -> Incident:
        """Move the incident along the flow (``states.move``); raises BadMove or NotFound."""
        async with self.db.transaction() as session:
            incident = await self.locked(session, incident_id)
            before = State(incident.state)
            incident.state = move(before, wanted).value
            acknowledge(incident, at, actor)
            body = {"from": before.value, "to": wanted.value, "note": note[:2000]}
            await self.write_entry(session, incident, "state", at=at, actor=actor, body=body)
        return incident

    async def comment(
        self, incident_id: str, text: str, *, at: datetime, actor: Actor
    ) -> IncidentEntry:
        """Add a comment to the timeline."""
        async with self.db.transaction() as session:
            incident = await self.locked(session, incident_id)
            acknowledge(incident, at, actor)
            return await self.write_entry(
                session, incident, "comment", at=at, actor=actor, body={"text": text[:5000]}
            )

    async def escalate(self, incident_id: str, level: int, name: str, *, at: datetime) -> bool:
        """Raise the incident to escalation ``level`` if it is still unacknowledged at
        ``level - 1``; False when another node (or a person) got there first."""
        async with self.db.transaction() as session:
            raised = await session.execute(
                update(Incident)
                .where(
                    Incident.id == incident_id,
                    Incident.escalation_level == level - 1,
                    Incident.acknowledged_at.is_(None),
                    Incident.state.in_(RUNNING),
                )
                .values(escalation_level=level, escalated_at=at)
            )
            if not raised.rowcount:  # type: ignore[attr-defined]
                return False
            incident = await self.locked(session, incident_id)
            body = {"level": level, "level_name": name}
            await self.write_entry(session, incident, "escalated", at=at, actor=SYSTEM, body=body)
        return True

    async def locked(self, session: AsyncSession, incident_id: str) -> Incident:
        """The incident, locked for update in ``session``; NotFound when there is none."""
        incident = await session.get(Incident, incident_id, with_for_update=True)
        if incident is None:
            raise NotFound("no such incident")
        return incident

    async def get(self, incident_id: str) -> Incident:
        """The incident, or NotFound."""
        async with self.db.sessions() as session:
            incident = await session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("no such incident")
        return incident

    async def take_ownership(
        self, incident_id: str, owner_id: str | None, *, at: datetime, actor: Actor
    ) -> Incident:
        """Make ``owner_id`` (a user id, or None: nobody) the incident's owner."""
        async with self.db.transaction() as session:
            incident = await self.locked(session, incident_id)
            before = incident.owner_id
            incident.owner_id = owner_id
            acknowledge(incident, at, actor)
            body = {"from": before, "to": owner_id}
            await self.write_entry(session, incident, "owner", at=at, actor=actor, body=body)
        return incident

    async def record_step(
        self,
        incident_id: str,
        step_id: str,
        *,
        status: str,
        at: datetime,
        actor: Actor,
        note: str = "",
        why: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> IncidentEntry:
        """Write a step's outcome to the timeline (``done``, ``skipped`` or ``failed``).

        The step must exist in the incident's playbook, not be done yet and have every
        step it comes after done (``steps.runnable``: NotFound or Conflict saying why).
        """
        async with self.db.transaction() as session:
            incident = await self.locked(session, incident_id)
            entries = await self._entries(session, incident_id)
            step = runnable(self.playbooks.get(incident.kind), entries, step_id)
            acknowledge(incident, at, actor)
            body: dict[str, Any] = {
                "step": step_id,
                "action": step.action,
                "status": status,
                "note": note[:2000],
            }
            if why is not None:
                body["why"] = why
            if result:
                body["result"] = dict(result)
            return await self.write_entry(session, incident, "step", at=at, actor=actor, body=body)

    async def step_to_run(self, incident_id: str, step_id: str) -> tuple[Incident, str | None]:
        """The incident and the step's action (None: a checklist item) when it may run now."""
        async with self.db.sessions() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                raise NotFound("no such incident")
            entries = await self._entries(session, incident_id)
            step = runnable(self.playbooks.get(incident.kind), entries, step_id)
        return incident, step.action

    async def _entries(self, session: AsyncSession, incident_id: str) -> list[IncidentEntry]:
        rows = await session.scalars(
            select(IncidentEntry)
            .where(IncidentEntry.incident_id == incident_id)
            .order_by(IncidentEntry.n)
        )
        return list(rows)

    async def timeline(self, incident_id: str) -> list[IncidentEntry]:
        """Every entry, oldest first."""
        async with self.db.sessions() as session:
            return await self._entries(session, incident_id)


def acknowledge(incident: Incident, at: datetime, actor: Actor) -> None:
    """A person's first action on the incident acknowledges it (escalation stops)."""
    if actor != SYSTEM and incident.acknowledged_at is None:
        incident.acknowledged_at = at
