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
class Resource:
    """What an action touches. Empty fields mean "not specific to one"."""

    kind: str = "system"
    id: str | None = None
    site: str | None = None
    owner_id: str | None = None
