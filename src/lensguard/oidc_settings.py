"""Single sign-on providers (OpenID Connect): the settings section.

A leaf module: it imports only pydantic and the standard library, so ``settings.py``
can compose it like ``tls_settings``. The flows live in ``lensguard.identity.oidc``.

A client secret is never written inline: it is read from a file (``client_secret_file``)
or an environment variable (``client_secret_env``) when the app starts.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,30}")
"""Provider names appear in paths and generated usernames: short, lower-case ASCII."""
CALLBACK_PATH = "/api/v1/auth/oidc/{name}/callback"
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Asymmetric algorithms only: no ``none``, no HS* (a public key is not a shared secret)."""
LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine (plain HTTP is accepted only there)."""
    if host is None:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str, key: str) -> str:
    """``value`` when it is an absolute https URL (http only towards a loopback host)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{key} must be an absolute https:// URL, not {value!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{key} must use https (plain http only towards 127.0.0.1/localhost)")
    if parts.fragment or parts.username or parts.password:
        raise ValueError(f"{key} must not carry a fragment or credentials")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MappingRule(_Section):
    """If the claim holds the value, the account gets ``role`` and ``sites``.

    Rules are tried in order; the first match decides. A claim may be a string or a
    list of strings (``groups``); ``value`` must equal the string or one list item.
    """

    claim: str = Field(min_length=1, max_length=64)
    value: str = Field(min_length=1, max_length=256)
    role: str = Field(min_length=1, max_length=32)
    sites: list[str] = Field(default_factory=lambda: ["*"], min_length=1, max_length=256)
    devices: list[str] = Field(default_factory=lambda: ["*"], min_length=1, max_length=256)


class OidcProviderSettings(_Section):
    """One identity provider that people sign in through."""

    name: str
    """Short name used in paths: ``/api/v1/auth/oidc/{name}/start``."""
    label: str = Field(default="", max_length=64)
    """Text of the console's sign-in button ("Sign in with …"); the name when empty."""
    issuer: str
    """Exactly as the provider's discovery document spells it (compared as a string)."""
    client_id: str = Field(min_length=1, max_length=256)
    client_secret_file: Path | None = None
    client_secret_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")
    redirect_uri: str
    """Registered at the provider, exactly; its path is ``/api/v1/auth/oidc/{name}/callback``."""
    post_logout_redirect_uri: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA", "PS256"])
    jit_provisioning: bool = False
    """Create an account at the first sign-in of someone the rules admit."""
    default_role: str | None = None
    """Role when no rule matches; None refuses people no rule admits."""
    default_sites: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    rules: list[MappingRule] = Field(default_factory=list, max_length=256)
    trust_amr_mfa: bool = False
    """Accept the provider's ``amr``/``acr`` as the second factor (no local TOTP then)."""
    mfa_amr_values: list[str] = Field(default_factory=lambda: ["mfa", "otp", "hwk", "swk"])
    mfa_acr_values: list[str] = Field(default_factory=list)
    link_by_verified_email: bool = False
    """Link a first sign-in to the account with that e-mail, only if ``email_verified``."""
    disable_local_password: bool = True
    """Accounts created here cannot sign in with a password (JIT accounts have none)."""
    userinfo: Literal["when_missing", "always", "never"] = "when_missing"
    http_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    discovery_max_age_seconds: int = Field(default=3600, ge=60, le=86_400)
    """Upper bound on how long the discovery document and JWKS are cached."""
    discovery_min_age_seconds: int = Field(default=60, ge=0, le=3600)
    """Lower bound, whatever ``Cache-Control`` says (a provider cannot make us poll)."""
    jwks_refetch_seconds: int = Field(default=60, ge=1, le=3600)
    """An unknown ``kid`` refetches the JWKS at most once per this many seconds."""
    clock_skew_seconds: int = Field(default=60, ge=0, le=300)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PROVIDER_NAME.fullmatch(value):
            raise ValueError("name must be 1-31 of a-z, 0-9 and '-', starting with a letter/digit")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        check_url(value, "issuer")
        if urlsplit(value).query:
            raise ValueError("issuer must not carry a query (OpenID Connect Discovery 1.0)")
        return value

    @field_validator("post_logout_redirect_uri")
    @classmethod
    def _post_logout(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, "post_logout_redirect_uri")

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        bad = sorted(set(value) - ALLOWED_ALGORITHMS)
        if bad or not value:
            raise ValueError(
                f"algorithms {bad} are not allowed; choose from {sorted(ALLOWED_ALGORITHMS)}"
            )
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("scopes must include 'openid'")
        if any(not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]{1,64}", scope) for scope in value):
            raise ValueError("each scope is 1-64 printable characters without spaces or quotes")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OidcProviderSettings:
        if (self.client_secret_file is None) == (self.client_secret_env is None):
            raise ValueError(
                f"provider {self.name!r}: set exactly one of client_secret_file or "
                "client_secret_env (the secret is never written inline)"
            )
        check_url(self.redirect_uri, "redirect_uri")
        path = urlsplit(self.redirect_uri).path
        if path != CALLBACK_PATH.format(name=self.name) or urlsplit(self.redirect_uri).query:
            raise ValueError(
                f"provider {self.name!r}: redirect_uri must end in "
                f"{CALLBACK_PATH.format(name=self.name)} (no query), not {path!r}"
            )
        return self


class OidcSettings(_Section):
    """``security.oidc``: the providers, and the limits of the flow."""

    providers: list[OidcProviderSettings] = Field(default_factory=list, max_length=32)
    state_lifetime_seconds: int = Field(default=600, ge=60, le=3600)
    """How long a started sign-in may take at the provider."""
    login_code_lifetime_seconds: int = Field(default=60, ge=10, le=300)
    """How long the console has to exchange the one-time login code."""
    starts_per_minute: int = Field(default=30, ge=1, le=10_000)
    """Sign-ins started per client address per minute."""

    @model_validator(mode="after")
    def _unique(self) -> OidcSettings:
        names = [p.name for p in self.providers]
        if len(names) != len(set(names)):
            raise ValueError("security.oidc.providers: names must be unique")
        issuers = [p.issuer for p in self.providers]
        if len(issuers) != len(set(issuers)):
            raise ValueError("security.oidc.providers: one entry per issuer")
        return self
