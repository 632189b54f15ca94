"""Control commands from the signaling server, checked again and applied to the driver.

The server has already checked the sender's permission and bound its identity; the
agent still validates every command itself (a robot must not trust its link to be
bug-free): the command must be known, every argument finite and in range. Each
sender connection numbers its commands; a command whose ``seq`` is not newer than
the last one applied from that connection is stale (reordered or replayed) and
ignored, except ``stop``, which is always safe to apply.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lensguard.agent.driver import DeadManTimer, Driver
from lensguard.logs import get_logger
from lensguard.wire.server import CommandArgs, ControlFrom, Sender

log = get_logger("lensguard.agent.control")


class ControlRejected(ValueError):
    """Raised when a control message is malformed, unknown or out of range."""


def parse_control(message: dict[str, Any]) -> ControlFrom:
    """Validate one control message (the protocol's ``ControlFrom``); raises ControlRejected."""
    try:
        return ControlFrom.model_validate(message)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "message"
        raise ControlRejected(f"{where}: {first.get('msg')}") from None


@dataclass(frozen=True)
class Applied:
    """A command the driver carried out, and who sent it."""

    command: str
    args: CommandArgs
    seq: int
    sender: Sender


class ControlHandler:
    """Applies valid, fresh commands to the driver and feeds the dead-man timer."""

    def __init__(
        self, driver: Driver, deadman: DeadManTimer, *, max_senders: int = 256, history: int = 256
    ) -> None:
        self.driver = driver
        self.deadman = deadman
        self.max_senders = max_senders
        self._last_seq: OrderedDict[str, int] = OrderedDict()
        self._mover: str | None = None
        self.history: deque[Applied] = deque(maxlen=history)

    def handle(self, message: dict[str, Any]) -> Applied | None:
        """Apply one control message; None when it was rejected or stale."""
        try:
            control = parse_control(message)
        except ControlRejected as exc:
            log.warning("control.rejected", reason=str(exc)[:200])
            return None
        who = control.sender
        if control.command != "stop" and not self._fresh(who.connection, control.seq):
            log.info("control.stale", seq=control.seq, **_identity(who))
            return None
        self._remember(who.connection, control.seq)
        applied = Applied(control.command, control.args, control.seq, who)
        try:
            self._apply(applied)
        except Exception as exc:
            log.error("control.driver_failed", command=control.command, error=type(exc).__name__)
            # Whatever half-happened, a failed command must not leave the robot moving.
            self.deadman.trip("driver_failed")
            return None
        self.history.append(applied)
        log.info(
            "control.command",
            command=control.command,
            seq=control.seq,
            **control.args.model_dump(),
            **_identity(who),
        )
        return applied

    def peer_left(self, connection: str) -> None:
        """A viewer connection went away: forget it; stop if it was driving."""
        self._last_seq.pop(connection, None)
        if connection == self._mover and self.deadman.moving:
            self.deadman.trip("operator_left")
        if connection == self._mover:
            self._mover = None

    def _fresh(self, connection: str, seq: int) -> bool:
        last = self._last_seq.get(connection)
        return last is None or seq > last

    def _remember(self, connection: str, seq: int) -> None:
        self._last_seq[connection] = max(seq, self._last_seq.get(connection, seq))
        self._last_seq.move_to_end(connection)
        while len(self._last_seq) > self.max_senders:
            self._last_seq.popitem(last=False)

    def _apply(self, applied: Applied) -> None:
        args = applied.args
        if applied.command == "move":
            self.driver.move(args.linear, args.angular)
            moving = args.linear != 0.0 or args.angular != 0.0
            self.deadman.fed(moving=moving)
            self._mover = applied.sender.connection if moving else None
        elif applied.command == "stop":
            self.driver.stop()
            self.deadman.fed(moving=False)
            self._mover = None
        else:
            self.driver.ptz(args.pan, args.tilt, args.zoom)
            self.deadman.fed()


def _identity(sender: Sender) -> dict[str, str]:
    return {
        "sender_kind": sender.kind,
        "sender_id": sender.id,
        "sender_name": sender.name,
        "connection": sender.connection,
    }
