"""``Rule`` and ``Finding``: what every detector is and what it reports.

A rule reads observations of the event types it names (``types``; empty means every
type) and returns findings. It keeps all its state in the ``Windows`` it is given, never
in itself, so that in cluster mode every node adds to the same counts. The engine turns a
finding into a ``Detection`` (severity and response from the settings) after the
cooldown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from lensguard.threats.observation import Observation
from lensguard.threats.windows import Windows


@dataclass(frozen=True)
class Finding:
    """A kind of threat, how sure (0..1), about which source, from which events."""

    kind: str
    score: float
    address: str | None = None
    principal: str | None = None
    event_ids: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        """What the cooldown is keyed by: the principal, else the address, else the node."""
        return self.principal or self.address or "node"


class Rule(Protocol):
    """A detector: ``name`` for metrics, ``kinds`` it can report, ``types`` it reads."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]
    types: ClassVar[frozenset[str]]

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        """The findings ``event`` completes (usually none)."""
        ...


def over(value: float, threshold: float) -> float:
    """A score in [0.5, 1) for a value at or past ``threshold``: 0.5 at it, → 1 far past."""
    if threshold <= 0:
        return 1.0
    ratio = value / threshold
    return min(0.99, 1.0 - 0.5 / max(ratio, 1.0))


async def crossed(
    windows: Windows,
    key: str,
    event: Observation,
    *,
    window: float,
    threshold: int,
) -> tuple[str, ...] | None:
    """Count ``event`` under ``key``; the ids in the window once there are ``threshold``.

    Counts distinct event ids (so a replayed duplicate counts once), remembering at most
    twice the threshold, which is all a rule needs to report what triggered it.
    """
    cap = max(2 * threshold, 2)
    seen = await windows.distinct(key, event.id, event.at, window, cap)
    if seen < threshold:
        return None
    return tuple(await windows.members(key, event.at, window))
