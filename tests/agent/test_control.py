"""Control messages: validated again on the device, stale ones ignored, senders logged."""

from typing import Any

import pytest

from lensguard.agent.control import ControlHandler, ControlRejected, parse_control
from lensguard.agent.driver import DeadManTimer, SimulatedRobot

OPERATOR = {"kind": "user", "id": "u-1", "name": "ada", "connection": "c-ada"}
OTHER = {"kind": "user", "id": "u-2", "name": "bob", "connection": "c-bob"}


def control(
    command: str = "move", seq: int = 1, sender: dict[str, str] = OPERATOR, **args: Any
) -> dict[str, Any]:
    return {"type": "control", "from": sender, "command": command, "args": args, "seq": seq}


def handler() -> tuple[ControlHandler, SimulatedRobot]:
    robot = SimulatedRobot()
    return ControlHandler(robot, DeadManTimer(robot, timeout=10)), robot


def test_a_move_reaches_the_driver_with_the_senders_identity() -> None:
    control_handler, robot = handler()
    applied = control_handler.handle(control(linear=0.5, angular=-0.25))
    assert applied is not None and applied.sender.name == "ada"
    assert [(c.name, c.linear, c.angular) for c in robot.commands] == [("move", 0.5, -0.25)]
    assert control_handler.deadman.moving


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (control("teleport"), "command"),
        (control(linear=1.5), "args.linear"),
        (control(angular=-2), "args.angular"),
        (control("ptz", zoom=-0.1), "args.zoom"),
        (control(linear=float("nan")), "args.linear"),
        (control(linear=float("inf")), "args.linear"),
        (control(seq=-1), "seq"),
        (control(seq=2**60), "seq"),
        ({"type": "control", "command": "move", "seq": 1}, "from"),
        (control(sender={"kind": "user", "id": "x", "name": "", "connection": "c"}), "from.name"),
        (control(linear="fast"), "args.linear"),
    ],
)
def test_invalid_commands_never_reach_the_driver(message: dict[str, Any], reason: str) -> None:
    with pytest.raises(ControlRejected, match=rf"^{reason}: "):
        parse_control(message)
    control_handler, robot = handler()
    assert control_handler.handle(message) is None
    assert list(robot.commands) == []


def test_stale_and_duplicate_seq_are_ignored_per_sender() -> None:
    control_handler, robot = handler()
    control_handler.handle(control(seq=5, linear=0.1))
    control_handler.handle(control(seq=5, linear=0.9))  # duplicate
    control_handler.handle(control(seq=3, linear=0.9))  # reordered, older
    control_handler.handle(control(seq=1, linear=0.2, sender=OTHER))  # another sender's counter
    control_handler.handle(control(seq=6, linear=0.3))
    assert [c.linear for c in robot.commands] == [0.1, 0.2, 0.3]
    assert [a.sender.name for a in control_handler.history] == ["ada", "bob", "ada"]


def test_a_stale_stop_is_still_applied() -> None:
    control_handler, robot = handler()
    control_handler.handle(control(seq=9, linear=0.5))
    control_handler.handle(control("stop", seq=2))
    assert [c.name for c in robot.commands] == ["move", "stop"]
    assert not control_handler.deadman.moving


def test_ptz_and_stop() -> None:
    control_handler, robot = handler()
    control_handler.handle(control("ptz", seq=1, pan=-0.5, tilt=0.25, zoom=1.0))
    control_handler.handle(control("stop", seq=2))
    assert [(c.name, c.pan, c.tilt, c.zoom) for c in robot.commands] == [
        ("ptz", -0.5, 0.25, 1.0),
        ("stop", 0.0, 0.0, 0.0),
    ]


def test_the_driver_stops_when_its_driving_viewer_leaves() -> None:
    control_handler, robot = handler()
    control_handler.handle(control(seq=1, linear=0.5))
    control_handler.peer_left("c-bob")
    assert robot.moving
    control_handler.peer_left("c-ada")
    assert not robot.moving
    assert list(control_handler.deadman.stops) == ["operator_left"]
    # The connection's counter is forgotten with it: a new session may start at 1.
    control_handler.handle(control(seq=1, linear=0.1))
    assert robot.moving


def test_a_failing_driver_command_stops_the_robot() -> None:
    class Broken(SimulatedRobot):
        def move(self, linear: float, angular: float) -> None:
            raise RuntimeError("motor fault")

    robot = Broken()
    control_handler = ControlHandler(robot, DeadManTimer(robot, timeout=10))
    assert control_handler.handle(control(linear=0.5)) is None
    assert [c.name for c in robot.commands] == ["stop"]
    assert list(control_handler.deadman.stops) == ["driver_failed"]


def test_the_per_sender_memory_is_bounded() -> None:
    robot = SimulatedRobot()
    control_handler = ControlHandler(robot, DeadManTimer(robot, timeout=10), max_senders=4)
    for n in range(10):
        sender = {**OPERATOR, "connection": f"c-{n}"}
        control_handler.handle(control("ptz", seq=1, sender=sender))
    assert len(control_handler._last_seq) == 4
