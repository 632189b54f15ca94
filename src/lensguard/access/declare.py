"""Every route declares the action it needs; a route that declares none is refused.

Routes declare with ``dependencies=[requires(...)]`` (or a dependency built on it);
``check_routes_declared`` walks the app's route table at start-up and refuses to
serve when any route lacks a declaration, so deny-by-default cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute

from lensguard.errors import ConfigurationError

PUBLIC = "public"
"""The action of routes anyone may call (health, JWKS, login)."""

IN_BAND = "in_band"
"""The action of routes that authenticate inside their protocol (the signaling socket,
whose first message carries the credential) and check every message with ``can()``."""

_ACTION_ATTR = "__lensguard_action__"


def mark_action(dependency: Callable[..., Any], action: str) -> Callable[..., Any]:
    """Tag a dependency callable as the declaration of ``action``."""
    setattr(dependency, _ACTION_ATTR, action)
    return dependency


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def declared_action(route: APIRoute | APIWebSocketRoute) -> str | None:
    """The action a route declared (first found), or None."""
    for dep in _walk(route.dependant):
        action = getattr(dep.call, _ACTION_ATTR, None)
        if isinstance(action, str):
            return action
    return None


def check_routes_declared(app: FastAPI, *, known_actions: set[str]) -> None:
    """Refuse to start if a route declares no action or one the policy does not know."""
    missing = []
    unknown = []
    for route in app.routes:
        if isinstance(route, (APIRoute, APIWebSocketRoute)):
            action = declared_action(route)
            if action is None:
                missing.append(route.path)
            elif action not in (PUBLIC, IN_BAND) and action not in known_actions:
                unknown.append(f"{route.path} ({action})")
        else:
            # Raw Starlette routes and mounts bypass dependencies: refuse them outright.
            missing.append(getattr(route, "path", repr(route)))
    if missing:
        raise ConfigurationError(
            "routes without a declared action (add dependencies=[requires(...)]): "
            + ", ".join(sorted(missing))
        )
    if unknown:
        raise ConfigurationError(
            "routes declare actions the policy does not define: " + ", ".join(sorted(unknown))
        )
