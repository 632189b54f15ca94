"""Everything identity flows need, built once per app from the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from redis.asyncio import Redis

from lensguard.access.policy import Policy, load_policy
from lensguard.audit import AuditLog
from lensguard.bus.channels import OVERRIDES, STREAM_CONFIG
from lensguard.errors import ConfigurationError
from lensguard.guard.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from lensguard.identity.passwords import hash_password, make_hasher, one_time_password
from lensguard.identity.revocation import (
    DatabaseRevocationStore,
    RedisRevocationStore,
    RevocationStore,
)
from lensguard.identity.throttle import LoginThrottle
from lensguard.identity.tokens import TokenService
from lensguard.protect.subkeys import Purpose, derive
from lensguard.settings import Settings
from lensguard.store.db import Database
from lensguard.store.kv import MemoryStore, RedisStore

ISSUER = "lensguard"
AUDIENCE = "lensguard-api"
REVOCATION_LEEWAY = 60


@dataclass
class IdentityContext:
    """The identity room's collaborators and keys."""

    settings: Settings
    db: Database
    policy: Policy
    tokens: TokenService
    revocations: RevocationStore
    throttle: LoginThrottle
    api_key_limiter: RateLimiter
    hasher: PasswordHasher
    dummy_hash: str
    wrap_key: bytes
    pepper: bytes
    refresh_key: bytes
    recovery_key: bytes
    audit: AuditLog
    notify: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    """Announces revocations to live connections on every node (set by Services)."""
    broadcast: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    """Publishes a message to every node on a bus channel (set by Services)."""

    async def announce_stream(self, device_id: str) -> None:
        """Tell relay nodes that a stream's settings changed."""
        if self.broadcast is not None:
            await self.broadcast(STREAM_CONFIG, {"device_id": device_id})

    async def tell_device(self, device_id: str, message: dict[str, Any]) -> None:
        """Send a server message to a device's live connection, on whichever node."""
        if self.broadcast is not None:
            await self.broadcast(f"device:{device_id}", message)

    async def announce_site(self, site: str) -> None:
        """Tell relay nodes that a site's stream policy changed."""
        if self.broadcast is not None:
            await self.broadcast(STREAM_CONFIG, {"site": site})

    async def announce_override_end(self, device_id: str, grant_id: str, reason: str) -> None:
        """Tell relay nodes that a break-glass grant ended before its expiry."""
        if self.broadcast is not None:
            message = {"device_id": device_id, "grant_id": grant_id, "reason": reason}
            await self.broadcast(OVERRIDES, message)

    async def announce(self, **message: Any) -> None:
        """Tell live signaling sessions that access for someone changed."""
        if self.notify is not None:
            await self.notify(message)

    @property
    def access_lifetime(self) -> int:
        return self.settings.security.authentication.token_expiry

    @property
    def revocation_ttl(self) -> int:
        """How long a revocation must be remembered: until every affected token expired."""
        return self.access_lifetime + REVOCATION_LEEWAY

    def mfa_required(self, role: str) -> bool:
        return role in self.settings.security.authentication.mfa_required_for

    @classmethod
    def build(cls, settings: Settings, db: Database, redis: Redis | None) -> IdentityContext:
        """Derive keys and choose store implementations (Redis in cluster mode)."""
        if settings.secret_key is None:
            raise ConfigurationError("secret_key is required to build the identity service")
        master = settings.secret_key.get_secret_value()
        wrap_key = derive(master, Purpose.WRAP)
        policy = load_policy(settings.security.access_control.policy_file)
        policy.require_role(settings.security.access_control.default_role)
        for role in settings.security.authentication.mfa_required_for:
            policy.require_role(role)
        hasher = make_hasher()
        revocations: RevocationStore
        limiter: RateLimiter
        if redis is not None:
            revocations = RedisRevocationStore(redis)
            throttle = LoginThrottle(RedisStore(redis))
            limiter = RedisRateLimiter(redis, prefix="lg:apikey-rl:")
        else:
            revocations = DatabaseRevocationStore(db)
            throttle = LoginThrottle(MemoryStore())
            limiter = MemoryRateLimiter()
        return cls(
            settings=settings,
            db=db,
            policy=policy,
            tokens=TokenService(
                db,
                wrap_key=wrap_key,
                issuer=ISSUER,
                audience=AUDIENCE,
                lifetime=settings.security.authentication.token_expiry,
            ),
            revocations=revocations,
            throttle=throttle,
            api_key_limiter=limiter,
            hasher=hasher,
            # Unknown users are checked against this, so timing does not reveal who exists.
            dummy_hash=hash_password(hasher, one_time_password()),
            wrap_key=wrap_key,
            pepper=derive(master, Purpose.API_KEY_PEPPER),
            refresh_key=derive(master, Purpose.REFRESH_TOKEN),
            recovery_key=derive(master, Purpose.RECOVERY_CODE),
            audit=AuditLog.from_secret(master, checkpoint_every=settings.audit.checkpoint_every),
        )
