"""The role → permission policy, loaded from YAML (shipped default or a configured file)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from lensguard.errors import ConfigurationError, ValidationFailed
from lensguard.intake import IntakeError, read_text, refuse_aliases


@dataclass(frozen=True)
class Policy:
    """Which permissions exist and which each role grants."""

    permissions: dict[str, str]
    roles: dict[str, frozenset[str]]

    def grants(self, role: str) -> frozenset[str]:
        """Permissions of ``role``; an unknown role grants nothing."""
        return self.roles.get(role, frozenset())

    def require_role_or_invalid(self, role: str) -> str:
        """``role`` when it exists, else a 422 naming the valid roles (for API input)."""
        if role not in self.roles:
            valid = ", ".join(sorted(self.roles))
            # The rejected name is not repeated: problems never echo input.
            raise ValidationFailed(
                f"role must be one of: {valid}",
                errors=[{"field": "role", "message": f"must be one of: {valid}", "type": "enum"}],
            )
        return role

    def require_role(self, role: str) -> str:
        """``role`` when it exists, else a ConfigurationError naming the valid ones."""
        if role not in self.roles:
            raise ConfigurationError(
                f"unknown role {role!r}; valid roles: {', '.join(sorted(self.roles))}"
            )
        return role


def _parse(data: Any, source: str) -> Policy:
    if not isinstance(data, dict):
        raise ConfigurationError(f"policy {source} must be a mapping")
    perms = data.get("permissions")
    roles = data.get("roles")
    if not isinstance(perms, dict) or not isinstance(roles, dict) or not roles:
        raise ConfigurationError(f"policy {source} needs 'permissions' and 'roles' mappings")
    parsed: dict[str, frozenset[str]] = {}
    for role, granted in roles.items():
        if not isinstance(granted, list) or not all(isinstance(p, str) for p in granted):
            raise ConfigurationError(f"policy {source}: role {role!r} must list permissions")
        unknown = sorted(set(granted) - set(perms))
        if unknown:
            raise ConfigurationError(
                f"policy {source}: role {role!r} grants unknown permissions {unknown}"
            )
        parsed[str(role)] = frozenset(granted)
    return Policy(permissions={str(k): str(v) for k, v in perms.items()}, roles=parsed)


def _load(raw: bytes, source: str) -> Policy:
    try:
        data = yaml.safe_load(raw.decode())  # UTF-8, whatever the locale
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read policy {source}: {exc}") from exc
    return _parse(data, source)


def load_policy(path: Path | None = None) -> Policy:
    """The policy at ``path``, or the default shipped with lensguard."""
    if path is None:
        return _load(files("lensguard.access").joinpath("policy.yaml").read_bytes(), "(built-in)")
    try:
        text = read_text(path, what="policy file")
        refuse_aliases(text, what="policy file", source=str(path))
    except IntakeError as exc:
        raise ConfigurationError(f"security.access_control.policy_file: {exc}") from None
    return _load(text.encode(), str(path))
