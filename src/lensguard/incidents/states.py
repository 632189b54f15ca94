"""Incident states and the moves between them.

``open → triaged → contained → eradicated → recovered → closed`` is the response flow;
``false_positive`` ends an incident that was not one (from ``open`` or ``triaged``). A
step may be skipped forward when the work is already done (an automatic response
contained it: ``open → contained``); nothing moves backwards except reopening a
``closed`` or ``false_positive`` incident to ``open``, which is itself recorded.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    OPEN = "open"
    TRIAGED = "triaged"
    CONTAINED = "contained"
    ERADICATED = "eradicated"
    RECOVERED = "recovered"
    CLOSED = "closed"
    FALSE_POSITIVE = "false_positive"


FLOW = (
    State.OPEN,
    State.TRIAGED,
    State.CONTAINED,
    State.ERADICATED,
    State.RECOVERED,
    State.CLOSED,
)
ENDED = frozenset({State.CLOSED, State.FALSE_POSITIVE})


class BadMove(ValueError):
    """A state change the flow does not allow."""


def allowed(current: State) -> frozenset[State]:
    """The states an incident in ``current`` may move to."""
    if current in ENDED:
        return frozenset({State.OPEN})
    later = FLOW[FLOW.index(current) + 1 :]
    extra = {State.FALSE_POSITIVE} if current in (State.OPEN, State.TRIAGED) else set()
    return frozenset(later) | extra


def move(current: State, wanted: State) -> State:
    """``wanted`` when the flow allows it from ``current``; raises BadMove otherwise."""
    if wanted not in allowed(current):
        choices = ", ".join(sorted(s.value for s in allowed(current)))
        raise BadMove(f"an incident that is {current.value} can become: {choices}")
    return wanted
