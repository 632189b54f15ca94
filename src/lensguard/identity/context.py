"""What identity flows read from the app's one service container.

The container is ``lensguard.services.Services`` (layer 5). Identity flows sit below it
(layer 7) and cannot import it, so they declare what they use as this protocol; the
container satisfies it structurally and mypy checks that at every call. The keys and
stores themselves are built here, once, for the container to hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from argon2 import PasswordHasher
from redis.asyncio import Redis

from lensguard.access.policy import Policy, load_policy
from lensguard.audit import AuditLog
from lensguard.clock import Clock, SystemClock
from lensguard.errors import ConfigurationError
from lensguard.guard.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from lensguard.identity.passwords import hash_password, make_hasher, one_time_password
from lensguard.identity.revocation import (
    DatabaseRevocationStore,
    RedisRevocationStore,
    RevocationStore,
)
from lensguard.identity.signing_keys import wrap_key_check
from lensguard.identity.throttle import LoginThrottle
from lensguard.identity.tokens import TokenService
from lensguard.keyring.fields import FieldKeys
from lensguard.keyring.kept import load_purpose_keys
from lensguard.protect.subkeys import Purpose, derive
from lensguard.settings import Settings
from lensguard.store.db import Database
from lensguard.store.kv import MemoryStore, RedisStore

ISSUER = "lensguard"
AUDIENCE = "lensguard-api"
REVOCATION_LEEWAY = 60


class IdentityContext(Protocol):
    """The parts of the service container that identity flows use."""

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
    fields: FieldKeys
    """The keys personal fields are sealed under (``keyring.fields``)."""
    clock: Clock
    """The app's clock: session, code and revocation expiry are read from it."""

    async def announce(self, **message: Any) -> None:
        """Tell live signaling sessions on every node that access for someone changed."""

    @property
    def access_lifetime(self) -> int:
        """Seconds an access token lives."""

    @property
    def revocation_ttl(self) -> int:
        """How long a revocation must be remembered: until every affected token expired."""

    def mfa_required(self, role: str) -> bool:
        """Whether accounts of this role must enrol a second factor."""


@dataclass(frozen=True)
class IdentityParts:
    """The identity room's keys and stores, built once from the settings."""

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
    fields: FieldKeys


def checked_policy(settings: Settings) -> Policy:
    """The access policy, refusing roles the settings name but the policy lacks."""
    policy = load_policy(settings.security.access_control.policy_file)
    policy.require_role(settings.security.access_control.default_role)
    for role in settings.security.authentication.mfa_required_for:
        policy.require_role(role)
    return policy


def build_identity(
    settings: Settings, db: Database, redis: Redis | None, *, clock: Clock | None = None
) -> IdentityParts:
    """Derive keys and choose store implementations (Redis in cluster mode).

    Token times, throttle windows and audit timestamps are read from ``clock``. The
    hashing and audit keys come from the database once a secret rotation has kept them
    (``keyring.kept``); a secret the database does not expect is refused here.
    """
    clock = clock or SystemClock()
    if settings.secret_key is None:
        raise ConfigurationError("secret_key is required to build the identity service")
    master = settings.secret_key.get_secret_value()
    wrap_key = derive(master, Purpose.WRAP)
    policy = checked_policy(settings)
    kept = load_purpose_keys(settings.database_url, master, probe=wrap_key_check(wrap_key))
    hasher = make_hasher()
    revocations: RevocationStore
    limiter: RateLimiter
    if redis is not None:
        revocations = RedisRevocationStore(redis)
        throttle = LoginThrottle(RedisStore(redis))
        limiter = RedisRateLimiter(redis, prefix="lg:apikey-rl:", clock=clock.time)
    else:
        revocations = DatabaseRevocationStore(db, now=clock.now)
        throttle = LoginThrottle(MemoryStore(clock=clock.monotonic))
        limiter = MemoryRateLimiter(clock=clock.time)
    return IdentityParts(
        policy=policy,
        tokens=TokenService(
            db,
            wrap_key=wrap_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            lifetime=settings.security.authentication.token_expiry,
            clock=clock.time,
            cache_entries=settings.security.authentication.token_cache_entries,
        ),
        revocations=revocations,
        throttle=throttle,
        api_key_limiter=limiter,
        hasher=hasher,
        # Unknown users are checked against this, so timing does not reveal who exists.
        dummy_hash=hash_password(hasher, one_time_password()),
        wrap_key=wrap_key,
        pepper=kept[Purpose.API_KEY_PEPPER],
        refresh_key=kept[Purpose.REFRESH_TOKEN],
        recovery_key=kept[Purpose.RECOVERY_CODE],
        fields=FieldKeys(wrap_key),
        audit=AuditLog.from_secret(
            master,
            keys=kept,
            checkpoint_every=settings.audit.checkpoint_every,
            clock=clock.now,
            personal_details=settings.audit.personal_details,
        ),
    )
