"""Playbooks load with every step known, in a valid order; bad ones name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lensguard.incidents.playbook import ACTIONS, PHASES, PlaybookError, load_all, parse
from lensguard.incidents.states import BadMove, State, allowed, move

SHIPPED = {
    "data_breach",
    "ransomware",
    "ddos_attack",
    "brute_force",
    "credential_leak",
    "unauthorized_access",
    "device_compromise",
}


def test_the_shipped_playbooks_load_and_order_their_steps() -> None:
    playbooks = load_all()
    assert set(playbooks) == SHIPPED
    assert playbooks["data_breach"].notify_within_hours == 72
    for playbook in playbooks.values():
        order = [s.id for s in playbook.ordered()]
        assert sorted(order) == sorted(s.id for s in playbook.steps)
        for step in playbook.steps:
            assert all(order.index(first) < order.index(step.id) for first in step.after)
            assert step.phase in PHASES
            assert (step.action in ACTIONS) if step.automatic else bool(step.check)


def test_a_folder_replaces_a_shipped_playbook_by_kind(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "kind: ddos_attack\ntitle: Our DDoS runbook\nseverity: critical\n"
        "steps:\n  - {id: call, phase: notify, check: Call the provider}\n"
    )
    playbooks = load_all(tmp_path)
    assert playbooks["ddos_attack"].title == "Our DDoS runbook"
    assert len(playbooks) == len(SHIPPED)


GOOD_HEAD = "kind: x\ntitle: X\nseverity: high\nsteps:\n"


@pytest.mark.parametrize(
    ("steps", "line", "message"),
    [
        (
            "  - {id: a, phase: contain, action: wipe_everything}\n",
            5,
            "unknown step 'wipe_everything'",
        ),
        ("  - {id: a, phase: lunch, check: eat}\n", 5, "unknown phase 'lunch'"),
        ("  - {id: a, phase: detect}\n", 5, "exactly one of action or check"),
        (
            "  - {id: a, phase: detect, check: x, action: block_ip}\n",
            5,
            "exactly one of action or check",
        ),
        ("  - {id: a, phase: detect, check: x}\n  - {id: a, phase: learn, check: y}\n", 6, "twice"),
        ("  - {id: a, phase: detect, check: x, after: [b]}\n", 5, "unknown step 'b'"),
        (
            "  - {id: a, phase: detect, check: x, after: [c]}\n"
            "  - {id: b, phase: assess, check: y, after: [a]}\n"
            "  - {id: c, phase: learn, check: z, after: [b]}\n",
            5,
            "cycle: a -> c -> b -> a",
        ),
        ("  - {id: a, phase: detect, check: x, owner: me}\n", 5, "unknown key 'owner'"),
    ],
)
def test_a_bad_step_is_refused_with_file_and_line(steps: str, line: int, message: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        parse(GOOD_HEAD + steps, "mine.yaml")
    assert str(caught.value).startswith(f"mine.yaml:{line}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: x\ntitle: X\nseverity: dire\nsteps: []\n", "severity is low"),
        ("kind: x\ntitle: X\nseverity: high\nsteps: []\n", "non-empty list"),
        ("kind: x\ntitle: X\nsteps: [{id: a, phase: detect, check: y}]\n", "needs 'severity'"),
        ("kind: [x\n", "not valid YAML"),
        ("", "empty"),
        (
            GOOD_HEAD + "  - {id: a, phase: notify, check: y}\nnotify_within_hours: soon\n",
            "whole number",
        ),
    ],
)
def test_a_bad_playbook_is_refused(text: str, message: str) -> None:
    with pytest.raises(PlaybookError, match=message):
        parse(text, "mine.yaml")


def test_the_flow_moves_forward_and_ends() -> None:
    assert move(State.OPEN, State.CONTAINED) is State.CONTAINED  # an automatic response did it
    assert State.FALSE_POSITIVE in allowed(State.TRIAGED)
    assert State.FALSE_POSITIVE not in allowed(State.CONTAINED)
    assert allowed(State.CLOSED) == {State.OPEN}  # reopening is the one way back
    with pytest.raises(BadMove, match="an incident that is recovered can become: closed"):
        move(State.RECOVERED, State.TRIAGED)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xd8\xff\xe0" + bytes(32), "is a JPEG image, not a text file"),
        (b"kind: x\ntitle: \xff\n", "is not UTF-8 text (byte 15 cannot be read)"),
        (
            b"kind: x\ntitle: &t X\nseverity: high\nsteps: []\nagain: *t\n",
            "uses a YAML anchor or alias on line 2: write the values out in full",
        ),
    ],
)
def test_a_playbook_file_is_checked_by_content_before_it_is_parsed(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_bytes(content)
    with pytest.raises(PlaybookError) as raised:
        load_all(tmp_path)
    assert str(raised.value) == f"playbook {path} {why}"
