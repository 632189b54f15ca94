"""Reconnect delays: exponential backoff with jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delay before reconnect attempt ``n``: uniform in [d/2, d], d = min(cap, base * 2**n).

    The jitter spreads a fleet of agents that lost the same server, so they do not all
    reconnect in the same instant when it comes back.
    """

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call backs off further."""
        ceiling = min(self.cap, self.base * 2 ** min(self.attempt, 32))
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """The link is healthy again: start from ``base`` next time."""
        self.attempt = 0
