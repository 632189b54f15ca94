"""The per-app service container: built by ``create_app``, closed by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from lensguard.guard.client import Network, parse_networks
from lensguard.guard.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from lensguard.identity.context import IdentityContext
from lensguard.settings import Settings
from lensguard.store.db import Database


@dataclass
class Services:
    """Everything a request handler may need, owned by one app instance."""

    settings: Settings
    db: Database
    redis: Redis | None
    rate_limiter: RateLimiter
    identity: IdentityContext
    trusted_proxies: tuple[Network, ...] = field(default=())

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Create clients (no connection is opened until first use)."""
        db = Database(settings.database_url, echo=settings.database.echo)
        redis: Redis | None = None
        limiter: RateLimiter
        if settings.redis.url is not None:
            redis = Redis.from_url(
                settings.redis.url.get_secret_value(),
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
            )
            limiter = RedisRateLimiter(redis)
        else:
            limiter = MemoryRateLimiter()
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            rate_limiter=limiter,
            identity=IdentityContext.build(settings, db, redis),
            trusted_proxies=parse_networks(settings.server.trusted_proxies),
        )

    async def close(self) -> None:
        """Release connections."""
        await self.db.dispose()
        if self.redis is not None:
            await self.redis.aclose()
