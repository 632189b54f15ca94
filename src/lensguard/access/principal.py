"""Who is asking: a user, an API key acting for its owner, or a device."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

ALL = "*"


class PrincipalKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    DEVICE = "device"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller with the permissions and scope in force *now*."""

    kind: PrincipalKind
    id: str
    """The user id (for API keys: the owner's), or the device id."""
    name: str
    role: str
    permissions: frozenset[str]
    sites: frozenset[str] = field(default=frozenset({ALL}))
    devices: frozenset[str] = field(default=frozenset({ALL}))
    session_id: str | None = None
    api_key_id: str | None = None
    token_jti: str | None = None


@dataclass(frozen=True)
class Grant:
    """The permissions and scope an account, key or device holds, or would hold."""

    permissions: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Resource:
    """What an action touches. Empty fields mean "not specific to one"."""

    kind: str = "system"
    id: str | None = None
    site: str | None = None
    owner_id: str | None = None
    holds: Grant | None = None
    """For a managed account, key or device: what it holds now (may the caller touch it?)."""
    grants: Grant | None = None
    """For a create or change: what the target would hold afterwards (may the caller give it?)."""
