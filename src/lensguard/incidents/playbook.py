"""Playbooks: YAML files saying how an incident of one kind is run, checked when loaded.

A playbook names its kind, default severity, the detection kinds it answers and its
steps. Each step belongs to a phase of the response flow (``PHASES``: detect → assess
→ notify → contain → investigate → recover → learn) and is either **automatic** (an
``action`` the server can take, ``ACTIONS``) or a **checklist** item a person ticks
(``check``: the text). ``after`` names steps that must be done first.

Loading refuses, with the file and line: unknown keys, an unknown action or phase, a
step that is both or neither, duplicate step ids, an ``after`` naming no step, and a
cycle through ``after``. The seven shipped playbooks live in ``playbooks/`` beside
this module; a deployment's folder (``incidents.playbook_dir``) adds to or replaces
them by kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lensguard.intake import IntakeError, read_text, refuse_aliases
from lensguard.severity import Severity

PHASES = ("detect", "assess", "notify", "contain", "investigate", "recover", "learn")
ACTIONS = frozenset(
    {
        "isolate_account",
        "block_ip",
        "revoke_device_credentials",
        "legal_hold_recordings",
        "sign_audit_range",
        "end_sessions",
    }
)
"""What an automatic step may do (docs/threats.md, *Playbooks*)."""
SHIPPED = Path(__file__).resolve().parent / "playbooks"
MAX_STEPS = 100
MAX_BYTES = 256 * 1024
_TOP = {"kind", "title", "severity", "detections", "notify_within_hours", "steps"}
_STEP = {"id", "phase", "action", "check", "after"}


class PlaybookError(ValueError):
    """A playbook that cannot be loaded; the message names the file and line."""


@dataclass(frozen=True)
class Step:
    """One step: automatic (``action``) or a checklist item (``check``)."""

    id: str
    phase: str
    action: str | None
    check: str | None
    after: tuple[str, ...]

    @property
    def automatic(self) -> bool:
        return self.action is not None


@dataclass(frozen=True)
class Playbook:
    """How incidents of ``kind`` are run."""

    kind: str
    title: str
    severity: Severity
    detections: tuple[str, ...]
    notify_within_hours: int | None
    """A notification deadline from the incident's opening (GDPR: 72 h for a breach)."""
    steps: tuple[Step, ...]
    source: str

    def ordered(self) -> list[Step]:
        """Steps by phase, each after the steps it names (a valid topological order)."""
        done: list[Step] = []
        seen: set[str] = set()
        by_id = {s.id: s for s in self.steps}

        def visit(step: Step) -> None:
            if step.id in seen:
                return
            seen.add(step.id)
            for name in step.after:
                visit(by_id[name])
            done.append(step)

        for step in sorted(self.steps, key=lambda s: PHASES.index(s.phase)):
            visit(step)
        return done


def _where(source: str, node: Node) -> str:
    return f"{source}:{node.start_mark.line + 1}"


def _fail(source: str, node: Node, message: str) -> PlaybookError:
    return PlaybookError(f"{_where(source, node)}: {message}")


def _mapping(source: str, node: Node, what: str) -> dict[str, tuple[Node, Node]]:
    if not isinstance(node, MappingNode):
        raise _fail(source, node, f"{what} must be a mapping")
    found: dict[str, tuple[Node, Node]] = {}
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            raise _fail(source, key, f"{what} keys must be text")
        if key.value in found:
            raise _fail(source, key, f"{key.value!r} appears twice")
        found[key.value] = (key, value)
    return found


def _text(source: str, node: Node, what: str, *, limit: int = 500) -> str:
    if not isinstance(node, ScalarNode) or not node.value or len(node.value) > limit:
        raise _fail(source, node, f"{what} must be text of 1 to {limit} characters")
    return str(node.value)


def _names(source: str, node: Node, what: str) -> tuple[str, ...]:
    if not isinstance(node, SequenceNode):
        raise _fail(source, node, f"{what} must be a list")
    return tuple(_text(source, item, what, limit=64) for item in node.value)


def _unknown(source: str, fields: dict[str, tuple[Node, Node]], known: set[str]) -> None:
    for name, (key, _) in fields.items():
        if name not in known:
            raise _fail(source, key, f"unknown key {name!r}; known: {sorted(known)}")


def _step(source: str, node: Node) -> tuple[Step, Node]:
    fields = _mapping(source, node, "a step")
    _unknown(source, fields, _STEP)
    if "id" not in fields or "phase" not in fields:
        raise _fail(source, node, "a step needs an id and a phase")
    step_id = _text(source, fields["id"][1], "id", limit=64)
    phase = _text(source, fields["phase"][1], "phase", limit=32)
    if phase not in PHASES:
        raise _fail(source, fields["phase"][1], f"unknown phase {phase!r}; known: {list(PHASES)}")
    action = check = None
    if "action" in fields:
        action = _text(source, fields["action"][1], "action", limit=64)
        if action not in ACTIONS:
            raise _fail(
                source, fields["action"][1], f"unknown step {action!r}; known: {sorted(ACTIONS)}"
            )
    if "check" in fields:
        check = _text(source, fields["check"][1], "check")
    if (action is None) == (check is None):
        raise _fail(source, node, f"step {step_id!r} needs exactly one of action or check")
    after = _names(source, fields["after"][1], "after") if "after" in fields else ()
    return Step(step_id, phase, action, check, after), node


def _check_graph(source: str, steps: list[tuple[Step, Node]]) -> None:
    nodes = {step.id: node for step, node in steps}
    by_id = {step.id: step for step, _ in steps}
    for step, node in steps:
        for name in step.after:
            if name not in by_id:
                raise _fail(source, node, f"step {step.id!r} comes after unknown step {name!r}")
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(step_id: str, path: list[str]) -> None:
        if state.get(step_id) == 2:
            return
        if state.get(step_id) == 1:
            loop = " -> ".join([*path[path.index(step_id) :], step_id])
            raise _fail(source, nodes[step_id], f"steps form a cycle: {loop}")
        state[step_id] = 1
        for name in by_id[step_id].after:
            visit(name, [*path, step_id])
        state[step_id] = 2

    for step, _ in steps:
        visit(step.id, [])


def parse(text: str, source: str) -> Playbook:
    """The playbook in ``text`` (``source`` names it in errors)."""
    if len(text.encode()) > MAX_BYTES:
        raise PlaybookError(f"{source}: larger than {MAX_BYTES} bytes")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise PlaybookError(f"{source}{line}: not valid YAML") from None
    if root is None:
        raise PlaybookError(f"{source}: empty")
    fields = _mapping(source, root, "a playbook")
    _unknown(source, fields, _TOP)
    for needed in ("kind", "title", "severity", "steps"):
        if needed not in fields:
            raise _fail(source, root, f"a playbook needs {needed!r}")
    kind = _text(source, fields["kind"][1], "kind", limit=64)
    severity_node = fields["severity"][1]
    try:
        severity = Severity(_text(source, severity_node, "severity", limit=16))
    except ValueError:
        raise _fail(source, severity_node, "severity is low, medium, high or critical") from None
    steps_node = fields["steps"][1]
    if not isinstance(steps_node, SequenceNode) or not steps_node.value:
        raise _fail(source, steps_node, "steps must be a non-empty list")
    if len(steps_node.value) > MAX_STEPS:
        raise _fail(source, steps_node, f"at most {MAX_STEPS} steps")
    steps = [_step(source, item) for item in steps_node.value]
    seen: set[str] = set()
    for step, node in steps:
        if step.id in seen:
            raise _fail(source, node, f"step id {step.id!r} appears twice")
        seen.add(step.id)
    _check_graph(source, steps)
    hours = None
    if "notify_within_hours" in fields:
        node = fields["notify_within_hours"][1]
        value = _text(source, node, "notify_within_hours", limit=4)
        if not value.isdigit() or not 1 <= int(value) <= 720:
            raise _fail(source, node, "notify_within_hours is a whole number of hours, 1 to 720")
        hours = int(value)
    detections = (
        _names(source, fields["detections"][1], "detections") if "detections" in fields else ()
    )
    return Playbook(
        kind=kind,
        title=_text(source, fields["title"][1], "title", limit=200),
        severity=severity,
        detections=detections,
        notify_within_hours=hours,
        steps=tuple(step for step, _ in steps),
        source=source,
    )


def load(path: Path) -> Playbook:
    """The playbook in the file at ``path``."""
    try:
        text = read_text(path, what="playbook")
        refuse_aliases(text, what="playbook", source=str(path))
    except IntakeError as exc:
        raise PlaybookError(str(exc)) from None
    return parse(text, str(path))


def load_all(folder: Path | None = None) -> dict[str, Playbook]:
    """The shipped playbooks, then those in ``folder`` (which replace them by kind)."""
    found: dict[str, Playbook] = {}
    for directory in (SHIPPED, folder):
        if directory is None:
            continue
        for path in sorted(directory.glob("*.yaml")):
            playbook = load(path)
            found[playbook.kind] = playbook
    return found


def as_dict(playbook: Playbook) -> dict[str, Any]:
    """The JSON form (API and CLI)."""
    return {
        "kind": playbook.kind,
        "title": playbook.title,
        "severity": playbook.severity.value,
        "detections": list(playbook.detections),
        "notify_within_hours": playbook.notify_within_hours,
        "steps": [
            {
                "id": s.id,
                "phase": s.phase,
                "action": s.action,
                "check": s.check,
                "after": list(s.after),
            }
            for s in playbook.ordered()
        ],
    }
