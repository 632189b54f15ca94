"""What the app holds for single sign-on: one entry per configured provider.

Built once at start-up: client secrets are read here (from a file or an environment
variable) and kept out of every repr; mapped roles must exist in the access policy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

from lensguard.access.policy import Policy
from lensguard.clock import Clock
from lensguard.errors import ConfigurationError
from lensguard.identity.oidc.errors import UnknownProvider
from lensguard.identity.oidc.metadata import ProviderMetadata
from lensguard.oidc_settings import OidcProviderSettings, OidcSettings
from lensguard.protect.subkeys import Purpose, derive
from lensguard.store.kv import ExpiringStore, MemoryStore, RedisStore

MAX_SECRET_BYTES = 4096


@dataclass(frozen=True)
class Provider:
    """One provider: its settings, client secret and cached metadata."""

    settings: OidcProviderSettings
    secret: SecretStr = field(repr=False)
    metadata: ProviderMetadata

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def manages_access(self) -> bool:
        """Whether sign-ins through it set the account's role and sites (rules or a default)."""
        return bool(self.settings.rules) or self.settings.default_role is not None


@dataclass
class OidcRoom:
    """The configured providers and the short-lived records of sign-ins in flight."""

    settings: OidcSettings
    providers: dict[str, Provider]
    store: ExpiringStore
    """State already used, codes waiting to be exchanged, logout token ids seen."""
    state_key: bytes = field(repr=False)
    http: httpx.AsyncClient
    clock: Clock

    def provider(self, name: str) -> Provider:
        found = self.providers.get(name)
        if found is None:
            raise UnknownProvider()
        return found

    def by_issuer(self, issuer: str) -> Provider | None:
        return next((p for p in self.providers.values() if p.settings.issuer == issuer), None)

    async def close(self) -> None:
        await self.http.aclose()


def read_secret(provider: OidcProviderSettings) -> SecretStr:
    """The client secret from its file or environment variable; refused when missing."""
    where = provider.client_secret_file or f"${provider.client_secret_env}"
    if provider.client_secret_file is not None:
        try:
            raw = provider.client_secret_file.read_bytes()[: MAX_SECRET_BYTES + 1]
        except OSError as exc:
            raise ConfigurationError(
                f"security.oidc provider {provider.name!r}: cannot read {where}"
            ) from exc
        value = raw.decode("utf-8", errors="strict").strip() if len(raw) <= MAX_SECRET_BYTES else ""
    else:
        value = os.environ.get(str(provider.client_secret_env), "").strip()
    if not value:
        raise ConfigurationError(
            f"security.oidc provider {provider.name!r}: the client secret in {where} is empty "
            "or missing"
        )
    return SecretStr(value)


def check_roles(settings: OidcSettings, policy: Policy) -> None:
    """Refuse mappings that name roles the policy lacks, and JIT without any role."""
    for provider in settings.providers:
        roles = [rule.role for rule in provider.rules]
        if provider.default_role is not None:
            roles.append(provider.default_role)
        for role in roles:
            try:
                policy.require_role(role)
            except ConfigurationError as exc:
                raise ConfigurationError(
                    f"security.oidc provider {provider.name!r}: {exc.detail}"
                ) from exc
        if provider.jit_provisioning and not roles:
            raise ConfigurationError(
                f"security.oidc provider {provider.name!r}: jit_provisioning needs rules or "
                "a default_role (which role would a new account get?)"
            )


def build_oidc(
    settings: OidcSettings, *, master: str, policy: Policy, redis: Redis | None, clock: Clock
) -> OidcRoom:
    """The room for ``settings`` (no provider is contacted until the first sign-in)."""
    check_roles(settings, policy)
    http = httpx.AsyncClient(
        headers={"User-Agent": "lensguard-oidc"},
        limits=httpx.Limits(max_connections=32),
        trust_env=False,
    )
    providers = {
        p.name: Provider(
            settings=p, secret=read_secret(p), metadata=ProviderMetadata(p, http, clock)
        )
        for p in settings.providers
    }
    store: ExpiringStore = (
        RedisStore(redis, prefix="lg:oidc:")
        if redis is not None
        else MemoryStore(clock=clock.monotonic)
    )
    return OidcRoom(
        settings=settings,
        providers=providers,
        store=store,
        state_key=derive(master, Purpose.OIDC_STATE),
        http=http,
        clock=clock,
    )
