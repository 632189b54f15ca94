"""Which action each control command and lock message needs, as tables; unknown is refused."""

from typing import get_args

import pytest

from lensguard.access.can import can
from lensguard.access.control import CONTROL_ACTIONS, LOCK_ACTIONS, control_action
from lensguard.access.policy import load_policy
from lensguard.access.principal import Principal, PrincipalKind, Resource
from lensguard.errors import ValidationFailed
from lensguard.wire.client import Control

POLICY = load_policy()
CAMERA = Resource(kind="device", id="cam-1", site="site-a")

TABLE = [
    # (command, the action it needs)
    ("move", "basic_control"),
    ("stop", "basic_control"),
    ("ptz", "camera_control"),
]


@pytest.mark.parametrize(("command", "action"), TABLE)
def test_command_needs_its_action(command: str, action: str) -> None:
    assert control_action(command) == action


def test_the_table_is_the_whole_mapping() -> None:
    assert dict(CONTROL_ACTIONS) == dict(TABLE)


def test_every_command_the_protocol_accepts_has_an_action() -> None:
    commands = get_args(Control.model_fields["command"].annotation)
    assert sorted(commands) == sorted(CONTROL_ACTIONS)


@pytest.mark.parametrize("command", ["teleport", "", "PTZ", "Move", " stop", "basic_control"])
def test_unknown_command_is_refused(command: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        control_action(command)
    assert raised.value.detail == "command must be one of: move, ptz, stop"


def test_the_mapping_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        CONTROL_ACTIONS["teleport"] = "camera_view"  # type: ignore[index]
    assert "teleport" not in CONTROL_ACTIONS


def person(role: str, sites: frozenset[str] = frozenset({"*"})) -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        id=f"id-{role}",
        name=role,
        role=role,
        permissions=POLICY.grants(role),
        sites=sites,
    )


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", {"move", "stop", "ptz"}),
        ("operator", {"move", "stop"}),
        ("viewer", set()),
        ("investigator", set()),
        ("device", set()),
    ],
)
def test_who_may_send_which_command(role: str, allowed: set[str]) -> None:
    may = {
        command for command in CONTROL_ACTIONS if can(person(role), control_action(command), CAMERA)
    }
    assert may == allowed


LOCK_TABLE = [
    # (control-lock message, the action it needs)
    ("control_take", "control_override"),
    ("control_release", "camera_view"),
]


def test_the_lock_table_is_the_whole_mapping() -> None:
    assert dict(LOCK_ACTIONS) == dict(LOCK_TABLE)


@pytest.mark.parametrize(
    ("role", "takes_over"),
    [("admin", True), ("operator", False), ("viewer", False), ("investigator", False)],
)
def test_only_admins_may_take_the_lock_over(role: str, takes_over: bool) -> None:
    assert can(person(role), LOCK_ACTIONS["control_take"], CAMERA) is takes_over


@pytest.mark.parametrize("role", ["admin", "operator", "viewer", "investigator"])
def test_anyone_watching_may_release_their_own_lock(role: str) -> None:
    assert can(person(role), LOCK_ACTIONS["control_release"], CAMERA) is True


def test_taking_over_stays_inside_the_scope() -> None:
    elsewhere = Resource(kind="device", id="cam-9", site="site-b")
    admin = person("admin", sites=frozenset({"site-a"}))
    assert can(admin, LOCK_ACTIONS["control_take"], CAMERA) is True
    assert can(admin, LOCK_ACTIONS["control_take"], elsewhere) is False
    assert can(None, LOCK_ACTIONS["control_take"], CAMERA) is False
