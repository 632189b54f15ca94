"""Where each playbook step of an incident stands, read from its timeline.

A step is ``done`` once a ``step`` entry says so (a person ticked the checklist item,
or the automatic action was applied); an automatic action that was skipped or failed
leaves it ``pending``, with its last outcome shown, so it can be run again. A step is
``blocked`` while a step it comes ``after`` is not done. Nothing else stores step
state: the timeline (and so the audit chain) is the record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lensguard.errors import Conflict, NotFound
from lensguard.incidents.models import IncidentEntry
from lensguard.incidents.playbook import Playbook, Step

DONE = "done"
"""A step entry's status when the step is finished."""


@dataclass(frozen=True)
class StepStatus:
    """One step of the incident's playbook and where it stands."""

    step: Step
    status: str
    """``done``, ``pending`` (may be done now) or ``blocked`` (waits on ``waiting_on``)."""
    waiting_on: tuple[str, ...]
    last: dict[str, Any] | None
    """The newest ``step`` entry's body for this step (its outcome, who, when)."""


def _step_entries(entries: Iterable[IncidentEntry]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.kind != "step":
            continue
        body = json.loads(entry.body)
        body["at"] = entry.at.isoformat()
        body["actor"] = entry.actor
        found.setdefault(str(body.get("step")), []).append(body)
    return found


def statuses(playbook: Playbook | None, entries: Iterable[IncidentEntry]) -> list[StepStatus]:
    """Every step of ``playbook`` in its running order, with where it stands."""
    if playbook is None:
        return []
    seen = _step_entries(entries)
    done = {step_id for step_id, bodies in seen.items() if any(b["status"] == DONE for b in bodies)}
    shown: list[StepStatus] = []
    for step in playbook.ordered():
        waiting = tuple(name for name in step.after if name not in done)
        status = DONE if step.id in done else "blocked" if waiting else "pending"
        bodies = seen.get(step.id)
        shown.append(StepStatus(step, status, waiting, bodies[-1] if bodies else None))
    return shown


def runnable(playbook: Playbook | None, entries: Iterable[IncidentEntry], step_id: str) -> Step:
    """The step ``step_id`` when it may be done now; else NotFound or Conflict saying why."""
    if playbook is None:
        raise Conflict("this incident has no playbook, so no steps: add comments instead")
    for shown in statuses(playbook, entries):
        if shown.step.id != step_id:
            continue
        if shown.status == DONE:
            raise Conflict(f"step {step_id!r} is already done")
        if shown.waiting_on:
            pending = ", ".join(shown.waiting_on)
            raise Conflict(f"step {step_id!r} comes after {pending}: do those first")
        return shown.step
    known = ", ".join(step.id for step in playbook.ordered())
    raise NotFound(f"playbook {playbook.kind!r} has no step {step_id!r}; its steps: {known}")
