"""Per-connection budgets: a token bucket for messages, counters for candidates."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MESSAGES_PER_SECOND = 50.0
MESSAGE_BURST = 100.0
CONTROLS_PER_SECOND = 30.0
CONTROL_BURST = 30.0
MAX_CANDIDATES_PER_PEER = 64
MAX_PEERS = 64


@dataclass
class TokenBucket:
    """Allows ``rate`` events a second on average, ``burst`` at once."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.stamp = self.clock()

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
