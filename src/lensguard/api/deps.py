"""Dependencies routers share, and ``requires(action)``, the per-route declaration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.declare import PUBLIC, mark_action
from lensguard.services import Services


def get_services(request: Request) -> Services:
    """The app's service container."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> Any:
    """A database session in one transaction for the request."""
    async with services.db.transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def _public() -> None:
    """Anyone may call this route."""


mark_action(_public, PUBLIC)


def requires(action: str) -> Any:
    """Declare the action a route needs; ``PUBLIC`` for routes open to everyone."""
    if action == PUBLIC:
        return Depends(_public)
    raise ValueError(f"no authorisation is wired for action {action!r}")
