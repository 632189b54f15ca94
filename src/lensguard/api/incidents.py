"""``/api/v1/incidents``: run an incident — list, open, read, move, comment, own, steps.

Every route needs ``security_manage``. An incident's view carries its playbook steps
with where each stands (``incidents.steps``) and the notification clock (``notify_by``
and the seconds left: negative once overdue). ``POST …/steps/{step}`` ticks a checklist
item or runs an automatic step (``incidents.actions``); both land in the timeline and
the audit chain. Any of these by a person acknowledges the incident, which stops its
escalation (docs/threats.md, *Running an incident*).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import and_, or_, select

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.pages import PAGED, Listing, PageDep, stamp
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.errors import Conflict, ValidationFailed
from lensguard.incidents.actions import Targets
from lensguard.incidents.book import RUNNING, Actor, IncidentBook
from lensguard.incidents.models import Incident, IncidentEntry
from lensguard.incidents.playbook import as_dict
from lensguard.incidents.states import BadMove, State, allowed
from lensguard.incidents.steps import DONE, StepStatus, statuses
from lensguard.services import Services
from lensguard.severity import Severity
from lensguard.store.models import User

router = APIRouter(
    prefix="/api/v1/incidents", tags=["incidents"], responses=problems(AUTHENTICATED)
)
Manager = Annotated[Principal, requires("security_manage")]
IncidentId = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
StepId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Line = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^[^\x00-\x08\x7f]*$")
]
Title = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


class IncidentSummary(BaseModel):
    id: str
    kind: str
    title: str
    severity: Severity
    state: State
    address: str | None
    principal: str | None
    owner_id: str | None
    opened_by: str | None
    opened_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None = Field(description="null: no person has acted on it yet")
    escalation_level: int = Field(description="escalation levels alerted so far")
    notify_by: datetime | None = Field(description="the notification deadline, if any")
    detections: int


class NotificationClock(BaseModel):
    deadline: datetime
    seconds_left: int = Field(description="negative once the deadline has passed")
    overdue: bool


class StepView(BaseModel):
    id: str
    phase: str
    kind: str = Field(description="automatic (an action the server takes) or checklist")
    action: str | None
    check: str | None
    after: list[str]
    status: str = Field(description="done, pending (may be done now) or blocked")
    waiting_on: list[str]
    last: dict[str, Any] | None = Field(description="the newest outcome recorded for it")


class IncidentDetail(IncidentSummary):
    next_states: list[State] = Field(description="the states the flow allows from here")
    notification: NotificationClock | None
    steps: list[StepView]


class EntryView(BaseModel):
    n: int
    at: datetime
    kind: str
    actor: str | None
    body: dict[str, Any]


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z0-9_]+$")] = Field(
        description="a playbook's kind (GET /api/v1/incidents/playbooks), or unclassified"
    )
    title: Title
    severity: Severity = Severity.HIGH
    address: Annotated[str, StringConstraints(max_length=64)] | None = None
    principal: Annotated[str, StringConstraints(max_length=256)] | None = None


class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: State
    note: Line = ""


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class OwnerChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default="me", description='a user id; "me" (the default) takes it; null: nobody'
    )


class StepRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Line = ""
    account: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="isolate_account, end_sessions: instead of the incident's"
    )
    address: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="block_ip: instead of the incident's source address"
    )
    device_ids: list[Annotated[str, StringConstraints(max_length=32)]] = Field(
        default_factory=list,
        max_length=50,
        description="revoke_device_credentials, legal_hold_recordings: the devices",
    )


def _summary(incident: Incident) -> dict[str, Any]:
    return {
        name: getattr(incident, name)
        for name in IncidentSummary.model_fields
        if name not in ("severity", "state")
    } | {"severity": Severity(incident.severity), "state": State(incident.state)}


def _step(shown: StepStatus) -> StepView:
    step = shown.step
    return StepView(
        id=step.id,
        phase=step.phase,
        kind="automatic" if step.automatic else "checklist",
        action=step.action,
        check=step.check,
        after=list(step.after),
        status=shown.status,
        waiting_on=list(shown.waiting_on),
        last=shown.last,
    )


def _entry(entry: IncidentEntry) -> EntryView:
    return EntryView(
        n=entry.n, at=entry.at, kind=entry.kind, actor=entry.actor, body=json.loads(entry.body)
    )


async def _detail(services: Services, incident: Incident) -> IncidentDetail:
    book = services.incident_book
    entries = await book.timeline(incident.id)
    clock = None
    if incident.notify_by is not None:
        left = int((incident.notify_by - services.clock.now()).total_seconds())
        clock = NotificationClock(deadline=incident.notify_by, seconds_left=left, overdue=left < 0)
    return IncidentDetail(
        **_summary(incident),
        next_states=sorted(allowed(State(incident.state))),
        notification=clock,
        steps=[_step(s) for s in statuses(book.playbooks.get(incident.kind), entries)],
    )


def actor_of(principal: Principal, address: str) -> Actor:
    """The incident actor a request's principal is."""
    return Actor(principal.id, principal.name, address)


LISTING: Listing[Incident] = Listing(
    "incidents", key=lambda i: (stamp(i.opened_at), i.id), parts=(str, str), newest_first=True
)


@router.get("", summary="List incidents", responses=PAGED | problems(422))
async def list_incidents(
    _principal: Manager,
    services: ServicesDep,
    page: PageDep,
    running: Annotated[bool, Query(description="only those not closed nor false")] = True,
    severity: Annotated[Severity | None, Query()] = None,
    state: Annotated[State | None, Query()] = None,
) -> list[IncidentSummary]:
    """Incidents, newest first; by default only the running ones."""
    after = LISTING.decode(page.cursor)
    query = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc())
    if running:
        query = query.where(Incident.state.in_(RUNNING))
    if severity is not None:
        query = query.where(Incident.severity == severity.value)
    if state is not None:
        query = query.where(Incident.state == state.value)
    if after is not None:
        at = datetime.fromisoformat(str(after[0])).replace(tzinfo=UTC)
        query = query.where(
            or_(Incident.opened_at < at, and_(Incident.opened_at == at, Incident.id < after[1]))
        )
    async with services.db.sessions() as session:
        found = list(await session.scalars(query.limit(page.limit + 1)))
    return [IncidentSummary(**_summary(i)) for i in LISTING.cut(found, page)]


@router.post("", status_code=201, summary="Open an incident", responses=problems(BODY))
async def open_incident(
    body: IncidentCreate, principal: Manager, services: ServicesDep, address: AddressDep
) -> IncidentDetail:
    """Open an incident by hand (acknowledged: you opened it)."""
    book = services.incident_book
    try:
        incident = await book.open(
            kind=body.kind,
            title=body.title,
            severity=body.severity,
            at=services.clock.now(),
            actor=actor_of(principal, address),
            address=body.address,
            principal=body.principal,
        )
    except ValueError as exc:
        err = {"field": "body.kind", "message": str(exc), "type": "value_error"}
        raise ValidationFailed("invalid input in: body.kind", errors=[err]) from None
    return await _detail(services, incident)


class PlaybookView(BaseModel):
    kind: str
    title: str
    severity: Severity
    detections: list[str]
    notify_within_hours: int | None
    steps: list[dict[str, Any]]


@router.get("/playbooks", summary="List the playbooks")
async def playbooks(_principal: Manager, services: ServicesDep) -> list[PlaybookView]:
    """The loaded playbooks by kind, each with its steps in running order."""
    found = services.incident_book.playbooks
    return [PlaybookView(**as_dict(found[kind])) for kind in sorted(found)]


@router.get("/{incident_id}", summary="Read an incident", responses=problems(404, 422))
async def read(
    incident_id: IncidentId, _principal: Manager, services: ServicesDep
) -> IncidentDetail:
    """The incident with its steps, where each stands, and its notification clock."""
    return await _detail(services, await services.incident_book.get(incident_id))


ENTRIES: Listing[IncidentEntry] = Listing("incident-timeline", key=lambda e: (e.n,), parts=(int,))


@router.get(
    "/{incident_id}/timeline",
    summary="Read an incident's timeline",
    responses=PAGED | problems(404, 422),
)
async def timeline(
    incident_id: IncidentId, _principal: Manager, services: ServicesDep, page: PageDep
) -> list[EntryView]:
    """Every detection, action and comment, oldest first."""
    book = services.incident_book
    await book.get(incident_id)
    return [_entry(e) for e in ENTRIES.paginate(await book.timeline(incident_id), page)]


@router.post(
    "/{incident_id}/state",
    summary="Move an incident along the flow",
    responses=problems(BODY, 404, 409),
)
async def change_state(
    incident_id: IncidentId,
    body: StateChange,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> IncidentDetail:
    """open → triaged → contained → eradicated → recovered → closed, or false_positive."""
    try:
        incident = await services.incident_book.change_state(
            incident_id,
            body.state,
            at=services.clock.now(),
            actor=actor_of(principal, address),
            note=body.note,
        )
    except BadMove as exc:
        raise Conflict(str(exc)) from None
    return await _detail(services, incident)


@router.post(
    "/{incident_id}/comments",
    status_code=201,
    summary="Comment on an incident",
    responses=problems(BODY, 404),
)
async def comment(
    incident_id: IncidentId,
    body: CommentCreate,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> EntryView:
    """Add a comment to the timeline."""
    entry = await services.incident_book.comment(
        incident_id, body.text, at=services.clock.now(), actor=actor_of(principal, address)
    )
    return _entry(entry)


@router.put(
    "/{incident_id}/owner", summary="Set an incident's owner", responses=problems(BODY, 404)
)
async def set_owner(
    incident_id: IncidentId,
    body: OwnerChange,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> IncidentDetail:
    """Take ownership (``"me"``), hand it to another account, or leave it with nobody."""
    owner = principal.id if body.user_id == "me" else body.user_id
    if owner is not None:
        async with services.db.sessions() as session:
            if await session.get(User, owner) is None:
                message = "no such account"
                err = {"field": "body.user_id", "message": message, "type": "value_error"}
                raise ValidationFailed(f"invalid input in: body.user_id: {message}", errors=[err])
    incident = await services.incident_book.take_ownership(
        incident_id, owner, at=services.clock.now(), actor=actor_of(principal, address)
    )
    return await _detail(services, incident)


@router.post(
    "/{incident_id}/steps/{step_id}",
    summary="Tick a checklist step or run an automatic one",
    responses=problems(BODY, 404, 409),
)
async def run_step(
    incident_id: IncidentId,
    step_id: StepId,
    body: StepRun,
    *,
    principal: Manager,
    services: ServicesDep,
    address: AddressDep,
) -> EntryView:
    """A checklist step is marked done; an automatic one runs, and is done once applied.

    Refused (409) while a step it comes after is not done, or when it is done already.
    A skipped or failed run stays pending, with why, and may be run again.
    """
    book: IncidentBook = services.incident_book
    incident, action = await book.step_to_run(incident_id, step_id)
    actor = actor_of(principal, address)
    now = services.clock.now()
    if action is None:
        entry = await book.record_step(
            incident_id, step_id, status=DONE, at=now, actor=actor, note=body.note
        )
        return _entry(entry)
    assert services.step_actions is not None  # set by Services.build
    targets = Targets(body.account, body.address, tuple(body.device_ids))
    outcome = await services.step_actions.run(
        action, incident, targets, by=principal, address=address
    )
    entry = await book.record_step(
        incident_id,
        step_id,
        status=outcome.status,
        at=services.clock.now(),
        actor=actor,
        note=body.note,
        why=outcome.why,
        result=outcome.result,
    )
    return _entry(entry)
