"""``CountingRateLimiter``: the per-address request limiter, with each refusal counted."""

from __future__ import annotations

from lensguard.guard.ratelimit import Decision, RateLimiter
from lensguard.monitor.metrics import Metrics


class CountingRateLimiter:
    """Wrap the per-address request limiter so each refusal is counted."""

    def __init__(self, inner: RateLimiter, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def hit(self, key: str, *, limit: int, window: int) -> Decision:
        """Record a hit with the wrapped limiter; count it when refused."""
        decision = await self._inner.hit(key, limit=limit, window=window)
        if not decision.allowed:
            self._metrics.rate_limited.labels(limiter="address").inc()
        return decision

    async def reset(self, key: str) -> None:
        """Forget every hit on ``key``."""
        await self._inner.reset(key)
